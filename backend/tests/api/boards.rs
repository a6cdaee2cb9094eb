//! Boards and members over HTTP, and who may do what: every board route against every role.

use reqwest::Method;
use serde_json::{Value, json};
use shared::{BOARDS_PATH, Board, Member, Problem, Role};

use crate::helpers::{TestApp, User, spawn_app_with};

/// Who is asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Anonymous,
    Stranger,
    Viewer,
    Editor,
    Owner,
}

const EVERYONE: [Who; 5] = [
    Who::Anonymous,
    Who::Stranger,
    Who::Viewer,
    Who::Editor,
    Who::Owner,
];

/// A board with an owner, an editor, a viewer, a signed-up stranger and a spare member
/// (`extra`, a viewer) for the member routes to act on.
struct Scene {
    app: TestApp,
    board: Board,
    owner: User,
    editor: User,
    viewer: User,
    stranger: User,
    extra: User,
}

impl Scene {
    async fn new() -> Self {
        Self::new_with(|_| {}).await
    }

    async fn new_with(configure: impl FnOnce(&mut backend::config::Config)) -> Self {
        let app = spawn_app_with(configure).await;
        let owner = app.sign_up("chief").await;
        let editor = app.sign_up("editor").await;
        let viewer = app.sign_up("viewer").await;
        let stranger = app.sign_up("stranger").await;
        let extra = app.sign_up("extra").await;
        let board: Board = app
            .as_user(&owner, Method::POST, BOARDS_PATH)
            .json(&json!({ "name": "Shared" }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let scene = Self {
            app,
            board,
            owner,
            editor,
            viewer,
            stranger,
            extra,
        };
        for (user, role) in [
            ("editor", "editor"),
            ("viewer", "viewer"),
            ("extra", "viewer"),
        ] {
            let added = scene
                .send(
                    Who::Owner,
                    Method::POST,
                    "/members",
                    Some(json!({ "username": user, "role": role })),
                )
                .await;
            assert_eq!(added.status(), 201);
        }
        scene
    }

    fn user(&self, who: Who) -> Option<&User> {
        match who {
            Who::Anonymous => None,
            Who::Stranger => Some(&self.stranger),
            Who::Viewer => Some(&self.viewer),
            Who::Editor => Some(&self.editor),
            Who::Owner => Some(&self.owner),
        }
    }

    /// `method` on the board's URL followed by `suffix`, as `who`.
    async fn send(
        &self,
        who: Who,
        method: Method,
        suffix: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let path = format!("{BOARDS_PATH}/{}{suffix}", self.board.id);
        let mut request = match self.user(who) {
            Some(user) => self.app.as_user(user, method, &path),
            None => self.app.client.request(method, self.app.url(&path)),
        };
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }
}

/// What each caller gets: anonymous 401, a stranger 404 (the board's existence stays hidden), a
/// member below the needed role 403, the rest `ok`.
fn expected(who: Who, needed: Role, ok: u16) -> u16 {
    match who {
        Who::Anonymous => 401,
        Who::Stranger => 404,
        Who::Viewer if needed > Role::Viewer => 403,
        Who::Editor if needed > Role::Editor => 403,
        _ => ok,
    }
}

#[tokio::test]
async fn every_board_route_answers_each_role_as_its_rights_allow() {
    // Routes that do not change anything, or change what the next call sets back.
    let extra = |scene: &Scene| format!("/members/{}", scene.extra.account.id);
    type Route = (
        &'static str,
        Method,
        fn(&Scene) -> String,
        Option<Value>,
        Role,
        u16,
    );
    let routes: Vec<Route> = vec![
        (
            "read the board",
            Method::GET,
            |_| String::new(),
            None,
            Role::Viewer,
            200,
        ),
        (
            "list the members",
            Method::GET,
            |_| "/members".into(),
            None,
            Role::Viewer,
            200,
        ),
        (
            "rename the board",
            Method::PATCH,
            |_| String::new(),
            Some(json!({ "name": "Renamed" })),
            Role::Owner,
            200,
        ),
        (
            "change a role",
            Method::PATCH,
            extra,
            Some(json!({ "role": "viewer" })),
            Role::Owner,
            200,
        ),
    ];
    let scene = Scene::new().await;
    for (what, method, suffix, body, needed, ok) in &routes {
        for who in EVERYONE {
            let response = scene
                .send(who, method.clone(), &suffix(&scene), body.clone())
                .await;
            assert_eq!(
                response.status().as_u16(),
                expected(who, *needed, *ok),
                "{who:?} may {what}?"
            );
            if response.status().as_u16() >= 400 {
                let problem: Problem = response.json().await.unwrap();
                assert_eq!(problem.status, expected(who, *needed, *ok));
            }
        }
    }
}

#[tokio::test]
async fn adding_and_removing_members_and_deleting_the_board_need_the_owner() {
    for who in EVERYONE {
        let scene = Scene::new().await;
        let newcomer = scene.app.sign_up("newcomer").await;

        let added = scene
            .send(
                who,
                Method::POST,
                "/members",
                Some(json!({ "username": "newcomer", "role": "editor" })),
            )
            .await;
        assert_eq!(
            added.status().as_u16(),
            expected(who, Role::Owner, 201),
            "{who:?} adds"
        );
        let removed = scene
            .send(
                who,
                Method::DELETE,
                &format!("/members/{}", scene.extra.account.id),
                None,
            )
            .await;
        assert_eq!(
            removed.status().as_u16(),
            expected(who, Role::Owner, 204),
            "{who:?} removes"
        );
        let deleted = scene.send(who, Method::DELETE, "", None).await;
        assert_eq!(
            deleted.status().as_u16(),
            expected(who, Role::Owner, 204),
            "{who:?} deletes"
        );

        let owner_sees = scene
            .app
            .as_user(&scene.owner, Method::GET, BOARDS_PATH)
            .send()
            .await
            .unwrap()
            .json::<Vec<Board>>()
            .await
            .unwrap();
        let still_there = who != Who::Owner;
        assert_eq!(
            !owner_sees.is_empty(),
            still_there,
            "{who:?}: is the board still there?"
        );
        let members = scene.send(Who::Owner, Method::GET, "/members", None).await;
        if still_there {
            let names: Vec<String> = members
                .json::<Vec<Member>>()
                .await
                .unwrap()
                .into_iter()
                .map(|m| m.username)
                .collect();
            assert!(
                !names.contains(&newcomer.account.username),
                "{who:?}: {names:?}"
            );
            assert!(names.contains(&"extra".to_owned()), "{who:?}: {names:?}");
        }
    }
}

#[tokio::test]
async fn any_member_may_leave_but_the_last_owner_may_not() {
    let scene = Scene::new().await;
    let leave = async |who: Who| {
        let id = scene.user(who).unwrap().account.id;
        scene
            .send(who, Method::DELETE, &format!("/members/{id}"), None)
            .await
    };
    assert_eq!(leave(Who::Viewer).await.status(), 204);
    assert_eq!(
        scene
            .send(Who::Viewer, Method::GET, "", None)
            .await
            .status(),
        404
    );
    assert_eq!(leave(Who::Editor).await.status(), 204);

    let last = leave(Who::Owner).await;
    assert_eq!(last.status(), 409);
    let demoted = scene
        .send(
            Who::Owner,
            Method::PATCH,
            &format!("/members/{}", scene.owner.account.id),
            Some(json!({ "role": "editor" })),
        )
        .await;
    assert_eq!(demoted.status(), 409);
}

#[tokio::test]
async fn a_new_board_belongs_to_its_creator_and_lists_its_members_owners_first() {
    let scene = Scene::new().await;
    assert_eq!(scene.board.role, Role::Owner);
    let members: Vec<Member> = scene
        .send(Who::Viewer, Method::GET, "/members", None)
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<_> = members
        .iter()
        .map(|m| (m.username.as_str(), m.role))
        .collect();
    assert_eq!(
        names,
        [
            ("chief", Role::Owner),
            ("editor", Role::Editor),
            ("extra", Role::Viewer),
            ("viewer", Role::Viewer)
        ]
    );
    let seen: Board = scene
        .send(Who::Editor, Method::GET, "", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!((seen.id, seen.role), (scene.board.id, Role::Editor));
}

#[tokio::test]
async fn members_are_added_by_an_existing_username_once() {
    let scene = Scene::new().await;
    let unknown = scene
        .send(
            Who::Owner,
            Method::POST,
            "/members",
            Some(json!({ "username": "nobody", "role": "viewer" })),
        )
        .await;
    assert_eq!(unknown.status(), 400);
    let twice = scene
        .send(
            Who::Owner,
            Method::POST,
            "/members",
            Some(json!({ "username": "viewer", "role": "editor" })),
        )
        .await;
    assert_eq!(twice.status(), 409);
    let bad_role = scene
        .send(
            Who::Owner,
            Method::POST,
            "/members",
            Some(json!({ "username": "stranger", "role": "admin" })),
        )
        .await;
    assert_eq!(bad_role.status(), 400);
}

/// What to call, how, with what, the role it needs and its success status.
type TaskRoute = (&'static str, Method, String, Option<Value>, Role, u16);

#[tokio::test]
async fn every_task_route_answers_each_role_as_its_rights_allow() {
    let scene = Scene::new().await;
    let tasks = format!("{BOARDS_PATH}/{}/tasks", scene.board.id);
    for who in EVERYONE {
        // A task of the owner's for the routes that need one.
        let task: shared::Task = scene
            .app
            .as_user(&scene.owner, Method::POST, &tasks)
            .json(&json!({ "title": format!("for {who:?}") }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let one = format!("/tasks/{}", task.id);
        let cases: [TaskRoute; 6] = [
            (
                "list the tasks",
                Method::GET,
                "/tasks".into(),
                None,
                Role::Viewer,
                200,
            ),
            (
                "read a task",
                Method::GET,
                one.clone(),
                None,
                Role::Viewer,
                200,
            ),
            (
                "create a task",
                Method::POST,
                "/tasks".into(),
                Some(json!({ "title": "new" })),
                Role::Editor,
                201,
            ),
            (
                "change a task",
                Method::PATCH,
                one.clone(),
                Some(json!({ "done": true })),
                Role::Editor,
                200,
            ),
            (
                "delete a task",
                Method::DELETE,
                one.clone(),
                None,
                Role::Editor,
                204,
            ),
            (
                "clear done tasks",
                Method::DELETE,
                "/tasks?done=true".into(),
                None,
                Role::Editor,
                200,
            ),
        ];
        for (what, method, suffix, body, needed, ok) in cases {
            let response = scene.send(who, method, &suffix, body).await;
            assert_eq!(
                response.status().as_u16(),
                expected(who, needed, ok),
                "{who:?} may {what}?"
            );
        }
    }
}

#[tokio::test]
async fn a_task_records_who_created_it_and_who_changed_it_last() {
    let scene = Scene::new().await;
    let created: shared::Task = scene
        .send(
            Who::Owner,
            Method::POST,
            "/tasks",
            Some(json!({ "title": "shared" })),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(created.created_by.as_deref(), Some("chief"));
    assert_eq!(created.updated_by.as_deref(), Some("chief"));

    let changed: shared::Task = scene
        .send(
            Who::Editor,
            Method::PATCH,
            &format!("/tasks/{}", created.id),
            Some(json!({ "done": true })),
        )
        .await
        .json()
        .await
        .unwrap();

    assert_eq!(changed.created_by.as_deref(), Some("chief"));
    assert_eq!(changed.updated_by.as_deref(), Some("editor"));
}

#[tokio::test]
async fn a_board_and_its_tasks_are_invisible_from_another_board() {
    let scene = Scene::new().await;
    let theirs: shared::Task = scene
        .send(
            Who::Owner,
            Method::POST,
            "/tasks",
            Some(json!({ "title": "private" })),
        )
        .await
        .json()
        .await
        .unwrap();
    // The stranger's own board, where the other board's task id means nothing.
    let own: Board = scene
        .app
        .as_user(&scene.stranger, Method::POST, BOARDS_PATH)
        .json(&json!({ "name": "Mine" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let path = format!("{BOARDS_PATH}/{}/tasks/{}", own.id, theirs.id);
    for method in [Method::GET, Method::DELETE] {
        let response = scene
            .app
            .as_user(&scene.stranger, method.clone(), &path)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{method}");
    }
    let list: Vec<shared::Task> = scene
        .app
        .as_user(
            &scene.stranger,
            Method::GET,
            &format!("{BOARDS_PATH}/{}/tasks", own.id),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(list.is_empty());
}

#[tokio::test]
async fn too_many_changes_by_one_account_are_slowed_down_and_others_are_not() {
    let scene =
        Scene::new_with(|config| config.write_rate = std::num::NonZeroU32::new(1).unwrap()).await;
    let mut statuses = Vec::new();
    for i in 0..4 {
        let response = scene
            .send(
                Who::Editor,
                Method::POST,
                "/tasks",
                Some(json!({ "title": format!("burst {i}") })),
            )
            .await;
        statuses.push(response.status().as_u16());
        if response.status() == 429 {
            assert!(response.headers().contains_key("retry-after"));
        }
    }
    assert_eq!(statuses[..2], [201, 201], "a burst of twice the rate");
    assert!(statuses.contains(&429), "{statuses:?}");
    let other = scene
        .send(
            Who::Owner,
            Method::POST,
            "/tasks",
            Some(json!({ "title": "someone else" })),
        )
        .await;
    assert_eq!(other.status(), 201);
}
