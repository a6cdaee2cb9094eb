//! The `AccountStore` contract on both stores: accounts, sessions, tokens, boards, members and
//! rate-limit windows.

use shared::{Name, Role, Username};

use backend::store::Store;
use backend::store::accounts::{Added, Membership};

use crate::store::{Kind, open};

fn name(raw: &str) -> Username {
    Username::parse(raw).unwrap()
}

/// A new account named `username` (its password hash does not matter here).
async fn user(store: &dyn Store, username: &str) -> shared::Account {
    store
        .create_user(&name(username), "h", 1)
        .await
        .unwrap()
        .unwrap()
}

fn label(raw: &str) -> Name {
    Name::parse(raw).unwrap()
}

async fn a_username_is_taken_once_and_its_hash_comes_back(kind: Kind) {
    let db = open(kind).await;
    let ada = db
        .store
        .create_user(&name("ada"), "hash-a", 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ada.username, "ada");
    assert_eq!(
        db.store
            .create_user(&name("ADA"), "hash-b", 2)
            .await
            .unwrap(),
        None
    );
    let (found, hash) = db.store.user_by_name(&name("Ada")).await.unwrap().unwrap();
    assert_eq!((found, hash.as_str()), (ada, "hash-a"));
    assert_eq!(db.store.user_by_name(&name("bob")).await.unwrap(), None);
}

async fn a_session_lasts_until_it_expires_or_ends_and_is_seen_by_every_handle(kind: Kind) {
    let db = open(kind).await;
    let other_instance = db.reopen().await;
    let ada = user(&*db.store, "ada").await;
    db.store
        .create_session("s1", ada.id, 1_000, 2_000)
        .await
        .unwrap();
    db.store
        .create_session("s2", ada.id, 1_000, 9_000)
        .await
        .unwrap();
    assert_eq!(
        other_instance.session_user("s1", 1_999).await.unwrap(),
        Some(ada.clone())
    );
    assert_eq!(
        other_instance.session_user("s1", 2_000).await.unwrap(),
        None
    );
    assert!(db.store.delete_session("s2").await.unwrap());
    assert_eq!(
        other_instance.session_user("s2", 1_500).await.unwrap(),
        None
    );
    assert!(!db.store.delete_session("s2").await.unwrap());
    let purged = db.store.purge(2_000, 0).await.unwrap();
    assert_eq!(purged.sessions, 1);
}

async fn a_token_belongs_to_its_account_records_its_use_and_can_be_revoked(kind: Kind) {
    let db = open(kind).await;
    let ada = user(&*db.store, "ada").await;
    let bob = user(&*db.store, "bob").await;
    let token = db
        .store
        .create_token(ada.id, &label("laptop"), "t1", 10)
        .await
        .unwrap();
    assert_eq!(token.last_used_at, None);
    let (owner, id) = db.store.token_user("t1", 20).await.unwrap().unwrap();
    assert_eq!((owner, id), (ada.clone(), token.id));
    let listed = db.store.tokens(ada.id).await.unwrap();
    assert_eq!(listed.len(), 1);
    let last_used = listed[0].last_used_at.as_ref().unwrap().to_datetime();
    assert_eq!(last_used.unwrap().timestamp_millis(), 20);
    assert!(db.store.tokens(bob.id).await.unwrap().is_empty());
    assert!(
        !db.store.delete_token(bob.id, token.id).await.unwrap(),
        "not bob's to revoke"
    );
    assert!(db.store.delete_token(ada.id, token.id).await.unwrap());
    assert_eq!(db.store.token_user("t1", 30).await.unwrap(), None);
}

async fn a_board_is_seen_only_by_its_members_with_their_roles(kind: Kind) {
    let db = open(kind).await;
    let ada = user(&*db.store, "ada").await;
    let bob = user(&*db.store, "bob").await;
    let board = db
        .store
        .create_board(ada.id, &label("Home"), 5)
        .await
        .unwrap();
    assert_eq!(board.role, Role::Owner);
    assert_eq!(db.store.board(bob.id, board.id).await.unwrap(), None);
    assert!(db.store.boards(bob.id).await.unwrap().is_empty());

    let added = db
        .store
        .add_member(board.id, &name("bob"), Role::Viewer)
        .await
        .unwrap();
    assert!(matches!(added, Added::Member(ref m) if m.user_id == bob.id && m.role == Role::Viewer));
    assert_eq!(
        db.store
            .board(bob.id, board.id)
            .await
            .unwrap()
            .unwrap()
            .role,
        Role::Viewer
    );
    assert_eq!(
        db.store
            .add_member(board.id, &name("bob"), Role::Editor)
            .await
            .unwrap(),
        Added::AlreadyMember
    );
    assert_eq!(
        db.store
            .add_member(board.id, &name("cyd"), Role::Editor)
            .await
            .unwrap(),
        Added::NoSuchUser
    );

    assert!(
        db.store
            .rename_board(board.id, &label("Work"))
            .await
            .unwrap()
    );
    let seen = db.store.boards(bob.id).await.unwrap();
    assert_eq!(
        (seen[0].name.as_str(), seen[0].role),
        ("Work", Role::Viewer)
    );
    let members = db.store.members(board.id).await.unwrap();
    let roles: Vec<_> = members
        .iter()
        .map(|m| (m.username.as_str(), m.role))
        .collect();
    assert_eq!(roles, [("ada", Role::Owner), ("bob", Role::Viewer)]);

    assert!(db.store.delete_board(board.id).await.unwrap());
    assert!(db.store.boards(bob.id).await.unwrap().is_empty());
    assert!(db.store.members(board.id).await.unwrap().is_empty());
}

async fn a_board_always_keeps_an_owner(kind: Kind) {
    let db = open(kind).await;
    let ada = user(&*db.store, "ada").await;
    let bob = user(&*db.store, "bob").await;
    let board = db
        .store
        .create_board(ada.id, &label("Home"), 5)
        .await
        .unwrap();
    assert_eq!(
        db.store
            .set_role(board.id, ada.id, Role::Editor)
            .await
            .unwrap(),
        Membership::LastOwner
    );
    assert_eq!(
        db.store.remove_member(board.id, ada.id).await.unwrap(),
        Membership::LastOwner
    );
    assert_eq!(
        db.store
            .set_role(board.id, bob.id, Role::Editor)
            .await
            .unwrap(),
        Membership::NotMember
    );

    db.store
        .add_member(board.id, &name("bob"), Role::Owner)
        .await
        .unwrap();
    assert!(
        matches!(db.store.set_role(board.id, ada.id, Role::Viewer).await.unwrap(), Membership::Done(m) if m.role == Role::Viewer)
    );
    assert!(matches!(
        db.store.remove_member(board.id, ada.id).await.unwrap(),
        Membership::Done(_)
    ));
    assert_eq!(db.store.board(ada.id, board.id).await.unwrap(), None);
    assert_eq!(
        db.store.remove_member(board.id, bob.id).await.unwrap(),
        Membership::LastOwner
    );
}

async fn two_owners_stepping_down_at_once_from_two_processes_leave_one_owner(kind: Kind) {
    let db = open(kind).await;
    let other = db.reopen().await;
    for round in 0..10 {
        let ada = db
            .store
            .create_user(&name(&format!("ada{round}")), "h", 1)
            .await
            .unwrap()
            .unwrap();
        let bob = db
            .store
            .create_user(&name(&format!("bob{round}")), "h", 1)
            .await
            .unwrap()
            .unwrap();
        let board = db
            .store
            .create_board(ada.id, &label("Shared"), 5)
            .await
            .unwrap();
        db.store
            .add_member(board.id, &name(&bob.username), Role::Owner)
            .await
            .unwrap();
        let (a, b) = tokio::join!(
            db.store.set_role(board.id, ada.id, Role::Editor),
            other.remove_member(board.id, bob.id),
        );
        let done = [a.unwrap(), b.unwrap()]
            .iter()
            .filter(|outcome| matches!(outcome, Membership::Done(_)))
            .count();
        assert_eq!(done, 1, "round {round}: exactly one of them may step down");
        let owners = db
            .store
            .members(board.id)
            .await
            .unwrap()
            .into_iter()
            .filter(|m| m.role == Role::Owner)
            .count();
        assert_eq!(owners, 1, "round {round}");
    }
}

async fn a_rate_limit_window_counts_attempts_until_it_ends(kind: Kind) {
    let db = open(kind).await;
    let other = db.reopen().await;
    assert_eq!(db.store.hits("k", 0).await.unwrap().count, 0);
    assert_eq!(db.store.hit("k", 1_000, 100).await.unwrap().count, 1);
    let second = other.hit("k", 1_000, 600).await.unwrap();
    assert_eq!((second.count, second.resets_at_ms), (2, 1_100));
    assert_eq!(db.store.hits("k", 1_099).await.unwrap().count, 2);
    assert_eq!(db.store.hits("k", 1_100).await.unwrap().count, 0);
    let fresh = db.store.hit("k", 1_000, 1_100).await.unwrap();
    assert_eq!((fresh.count, fresh.resets_at_ms), (1, 2_100));
    assert_eq!(db.store.purge(2_100, 0).await.unwrap().rate_limits, 1);
}

on_both_stores!(
    a_username_is_taken_once_and_its_hash_comes_back,
    a_session_lasts_until_it_expires_or_ends_and_is_seen_by_every_handle,
    a_token_belongs_to_its_account_records_its_use_and_can_be_revoked,
    a_board_is_seen_only_by_its_members_with_their_roles,
    a_board_always_keeps_an_owner,
    two_owners_stepping_down_at_once_from_two_processes_leave_one_owner,
    a_rate_limit_window_counts_attempts_until_it_ends,
);
