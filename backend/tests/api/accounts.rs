//! Accounts over HTTP: sign-up, sign-in, sessions and their cookie, sign-out, access tokens, the
//! sign-in rate limits and cross-site request forgery.

use reqwest::Method;
use serde_json::json;
use shared::{
    ACCOUNTS_PATH, Account, BOARDS_PATH, IssuedToken, Problem, SESSION_PATH, TOKENS_PATH, TokenInfo,
};

use crate::helpers::{PASSWORD, User, session_cookie, set_cookie, spawn_app, spawn_app_with};

#[tokio::test]
async fn signing_up_signs_in_with_an_http_only_lax_cookie_and_never_returns_the_password() {
    let app = spawn_app().await;

    let response = app
        .client
        .post(app.url(ACCOUNTS_PATH))
        .json(&json!({ "username": "Ada", "password": PASSWORD }))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 201);
    let cookie = set_cookie(&response).unwrap();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    assert!(!cookie.contains("Secure"), "{cookie}");
    let body = response.text().await.unwrap();
    assert!(!body.contains(PASSWORD), "{body}");
    let account: Account = serde_json::from_str(&body).unwrap();
    assert_eq!(account.username, "ada");
}

#[tokio::test]
async fn with_secure_cookies_the_session_cookie_is_https_only() {
    let app = spawn_app_with(|config| config.secure_cookies = true).await;
    let response = app
        .client
        .post(app.url(ACCOUNTS_PATH))
        .json(&json!({ "username": "ada", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert!(set_cookie(&response).unwrap().contains("Secure"));
}

#[tokio::test]
async fn a_sign_up_that_breaks_the_rules_names_every_field_and_a_taken_name_is_a_conflict() {
    let app = spawn_app().await;
    app.sign_up("ada").await;

    let invalid = app
        .client
        .post(app.url(ACCOUNTS_PATH))
        .json(&json!({ "username": "a b", "password": "short" }))
        .send()
        .await
        .unwrap();
    assert_eq!(invalid.status(), 400);
    let problem: Problem = invalid.json().await.unwrap();
    let fields: Vec<_> = problem.errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["username", "password"]);

    let taken = app
        .client
        .post(app.url(ACCOUNTS_PATH))
        .json(&json!({ "username": "ADA", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(taken.status(), 409);
}

#[tokio::test]
async fn a_closed_server_takes_no_sign_ups() {
    let app = spawn_app_with(|config| config.signup = backend::auth::Signup::Closed).await;
    let response = app
        .client
        .post(app.url(ACCOUNTS_PATH))
        .json(&json!({ "username": "ada", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let problem: Problem = response.json().await.unwrap();
    assert_eq!(problem.kind, "/problems/signup-closed");
}

async fn sign_in(
    app: &crate::helpers::TestApp,
    cookie: Option<&str>,
    password: &str,
) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url(SESSION_PATH))
        .json(&json!({ "username": "ada", "password": password }));
    if let Some(cookie) = cookie {
        request = request.header("cookie", format!("{}={cookie}", shared::SESSION_COOKIE));
    }
    request.send().await.unwrap()
}

/// Who the server says the session `cookie` belongs to (`None`: nobody, the session ended).
async fn whoami(app: &crate::helpers::TestApp, cookie: &str) -> Option<String> {
    let user = User {
        account: Account {
            id: shared::UserId(0),
            username: String::new(),
        },
        cookie: cookie.to_owned(),
    };
    let response = app
        .as_user(&user, Method::GET, SESSION_PATH)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response
        .json::<Option<Account>>()
        .await
        .unwrap()
        .map(|account| account.username)
}

#[tokio::test]
async fn signing_in_issues_a_new_session_id_and_ends_the_one_presented() {
    let app = spawn_app().await;
    let ada = app.sign_up("ada").await;
    assert_eq!(whoami(&app, &ada.cookie).await.as_deref(), Some("ada"));

    let response = sign_in(&app, Some(&ada.cookie), PASSWORD).await;

    assert_eq!(response.status(), 200);
    let fresh = session_cookie(&response).unwrap();
    assert_ne!(fresh, ada.cookie);
    assert_eq!(whoami(&app, &fresh).await.as_deref(), Some("ada"));
    assert_eq!(whoami(&app, &ada.cookie).await, None, "the old id is dead");
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_account_read_the_same() {
    let app = spawn_app().await;
    app.sign_up("ada").await;

    let wrong = sign_in(&app, None, "not the password").await;
    assert_eq!(wrong.status(), 401);
    assert!(set_cookie(&wrong).is_none());
    let wrong: Problem = wrong.json().await.unwrap();
    let unknown = app
        .client
        .post(app.url(SESSION_PATH))
        .json(&json!({ "username": "nobody", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 401);
    let unknown: Problem = unknown.json().await.unwrap();
    assert_eq!(wrong.detail, unknown.detail);
}

#[tokio::test]
async fn signing_out_ends_the_session_and_removes_the_cookie() {
    let app = spawn_app().await;
    let ada = app.sign_up("ada").await;

    let response = app
        .as_user(&ada, Method::DELETE, SESSION_PATH)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 204);
    assert_eq!(session_cookie(&response).as_deref(), Some(""));
    assert!(set_cookie(&response).unwrap().contains("Max-Age=0"));
    assert_eq!(whoami(&app, &ada.cookie).await, None);
    let ended = app
        .as_user(&ada, Method::GET, BOARDS_PATH)
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), 401);
    assert!(ended.headers().contains_key("www-authenticate"));
}

#[tokio::test]
async fn failed_sign_ins_lock_the_account_for_a_while_even_from_many_addresses() {
    let app = spawn_app_with(|config| {
        config.sign_in_attempts = 3;
        config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    app.sign_up("ada").await;
    let attempt = |n: u32, password: &'static str| {
        app.client
            .post(app.url(SESSION_PATH))
            .header("x-forwarded-for", format!("10.0.0.{n}"))
            .json(&json!({ "username": "ada", "password": password }))
            .send()
    };
    for n in 0..3 {
        assert_eq!(attempt(n, "wrong password").await.unwrap().status(), 401);
    }

    let locked = attempt(10, PASSWORD).await.unwrap();

    assert_eq!(locked.status(), 429);
    let wait: u32 = locked.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&wait), "{wait}");
    let problem: Problem = locked.json().await.unwrap();
    assert_eq!(problem.kind, "/problems/too-many-requests");
}

#[tokio::test]
async fn one_address_trying_many_accounts_is_slowed_down_and_a_forged_forwarded_hop_does_not_help()
{
    let app = spawn_app_with(|config| {
        config.sign_in_attempts = 1;
        config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    // The allowance per address is five times the per-account one. The proxy appends the real
    // client last; what the client wrote before it does not count.
    let attempt = |n: u32| {
        app.client
            .post(app.url(SESSION_PATH))
            .header("x-forwarded-for", format!("192.0.2.{n}, 10.0.0.1"))
            .json(&json!({ "username": format!("user{n}"), "password": PASSWORD }))
            .send()
    };
    for n in 0..5 {
        assert_eq!(attempt(n).await.unwrap().status(), 401);
    }
    assert_eq!(attempt(5).await.unwrap().status(), 429);
}

#[tokio::test]
async fn a_forged_cross_site_change_is_refused_but_the_pages_own_and_bearer_requests_pass() {
    let app = spawn_app().await;
    let ada = app.sign_up("ada").await;
    let board = json!({ "name": "Home" });

    let forged = app
        .client
        .post(app.url(BOARDS_PATH))
        .header(
            "cookie",
            format!("{}={}", shared::SESSION_COOKIE, ada.cookie),
        )
        .header("origin", "http://evil.test")
        .json(&board)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let problem: Problem = forged.json().await.unwrap();
    assert_eq!(problem.kind, "/problems/cross-site-request");
    let sniffed = app
        .client
        .post(app.url(BOARDS_PATH))
        .header(
            "cookie",
            format!("{}={}", shared::SESSION_COOKIE, ada.cookie),
        )
        .header("sec-fetch-site", "cross-site")
        .json(&board)
        .send()
        .await
        .unwrap();
    assert_eq!(sniffed.status(), 403);

    let own = app
        .as_user(&ada, Method::POST, BOARDS_PATH)
        .json(&board)
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 201);
    let token = create_token(&app, &ada).await;
    let scripted = app
        .client
        .post(app.url(BOARDS_PATH))
        .bearer_auth(&token.secret)
        .header("origin", "http://evil.test")
        .json(&board)
        .send()
        .await
        .unwrap();
    assert_eq!(scripted.status(), 201);
}

async fn create_token(app: &crate::helpers::TestApp, user: &User) -> IssuedToken {
    let response = app
        .as_user(user, Method::POST, TOKENS_PATH)
        .json(&json!({ "name": "laptop" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_token_is_shown_once_works_as_a_bearer_and_stops_working_when_revoked() {
    let app = spawn_app().await;
    let ada = app.sign_up("ada").await;
    let token = create_token(&app, &ada).await;
    assert!(token.secret.starts_with("tt_"));

    let me = app
        .client
        .get(app.url(SESSION_PATH))
        .bearer_auth(&token.secret)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    assert_eq!(me.json::<Account>().await.unwrap(), ada.account);
    let listed = app
        .as_user(&ada, Method::GET, TOKENS_PATH)
        .send()
        .await
        .unwrap();
    let listed_text = listed.text().await.unwrap();
    assert!(
        !listed_text.contains(&token.secret),
        "the list never shows a secret"
    );
    let listed: Vec<TokenInfo> = serde_json::from_str(&listed_text).unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].last_used_at.is_some());

    let revoked = app
        .as_user(
            &ada,
            Method::DELETE,
            &format!("{TOKENS_PATH}/{}", token.token.id),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);
    let after = app
        .client
        .get(app.url(SESSION_PATH))
        .bearer_auth(&token.secret)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 401);
}

#[tokio::test]
async fn a_username_and_password_as_basic_credentials_buy_a_token_and_a_wrong_one_does_not() {
    let app = spawn_app().await;
    app.sign_up("ada").await;
    let post = |password: &'static str| {
        app.client
            .post(app.url(TOKENS_PATH))
            .basic_auth("ada", Some(password))
            .json(&json!({ "name": "console" }))
            .send()
    };

    assert_eq!(post("wrong password").await.unwrap().status(), 401);
    let issued = post(PASSWORD).await.unwrap();
    assert_eq!(issued.status(), 201);
    let issued: IssuedToken = issued.json().await.unwrap();
    let me = app
        .client
        .get(app.url(SESSION_PATH))
        .bearer_auth(&issued.secret)
        .send()
        .await
        .unwrap();
    assert_eq!(me.json::<Account>().await.unwrap().username, "ada");
}

#[tokio::test]
async fn a_malformed_or_unknown_bearer_token_is_unauthorized() {
    let app = spawn_app().await;
    for authorization in ["Bearer tt_0000", "Token abc", "Bearer"] {
        let response = app
            .client
            .get(app.url(SESSION_PATH))
            .header("authorization", authorization)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{authorization}");
    }
}
