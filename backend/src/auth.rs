//! Who is asking: browser sessions (an opaque cookie), personal access tokens (`Authorization:
//! Bearer`), passwords (Argon2id, hashed off the async threads), sign-in rate limits and the
//! client's address.
//!
//! Session ids and token secrets are 256 random bits; the store keeps only their SHA-256, so a
//! copy of the database signs no one in. A fast hash is enough for secrets that cannot be guessed;
//! passwords, which can, get Argon2id.

use std::net::IpAddr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use rand::RngCore;
use sha2::{Digest, Sha256};
use shared::{Account, Password, SESSION_COOKIE, TokenId, Username};
use tokio::sync::Semaphore;

use crate::store::accounts::Hits;
use crate::wire::Peer;
use crate::{AppError, AppState};

/// Who may create an account (`--signup`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Signup {
    /// Anyone who reaches the server, on the page.
    #[default]
    Open,
    /// Only the operator, with `tasktick user add`.
    Closed,
}

/// How long a browser session lasts after sign-in.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(30 * 24 * 60 * 60);
/// What every access token starts with, so that one pasted by mistake is recognisable (and
/// findable by secret scanners).
pub const TOKEN_PREFIX: &str = "tt_";
/// How many password hashes run at once: each takes about 19 MiB and a core for tens of
/// milliseconds, so a burst of sign-ins queues instead of exhausting memory.
const CONCURRENT_HASHES: usize = 4;

/// At most `attempts` within each fixed `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub attempts: u32,
    pub window: Duration,
}

impl RateLimit {
    pub fn window_ms(&self) -> i64 {
        self.window.as_millis() as i64
    }

    /// Refuses once the window holds more than `attempts` (429 with the seconds until it ends).
    pub fn check(&self, hits: Hits, now_ms: i64) -> Result<(), AppError> {
        if hits.count <= i64::from(self.attempts) {
            return Ok(());
        }
        let wait_ms = (hits.resets_at_ms - now_ms).max(1);
        Err(AppError::TooManyRequests {
            retry_after_secs: u32::try_from((wait_ms + 999) / 1000).unwrap_or(u32::MAX),
        })
    }
}

/// The account side of the server's configuration.
pub struct AuthSettings {
    pub signup: Signup,
    pub secure_cookies: bool,
    pub trusted_proxies: Vec<IpAddr>,
    /// Failed sign-ins per account.
    pub per_account: RateLimit,
    /// Sign-in and sign-up attempts per client address (five times the per-account allowance:
    /// several people may share an address).
    pub per_address: RateLimit,
    hashing: Semaphore,
}

impl AuthSettings {
    pub fn new(
        signup: Signup,
        secure_cookies: bool,
        trusted_proxies: Vec<IpAddr>,
        per_account: RateLimit,
    ) -> Self {
        Self {
            signup,
            secure_cookies,
            trusted_proxies,
            per_account,
            per_address: RateLimit {
                attempts: per_account.attempts.saturating_mul(5),
                window: per_account.window,
            },
            hashing: Semaphore::new(CONCURRENT_HASHES),
        }
    }

    /// Argon2id of `password` (PHC string), computed on the blocking pool.
    pub async fn hash_password(&self, password: Password) -> Result<String, AppError> {
        let _permit = self.hashing.acquire().await.map_err(closed)?;
        hash_password(password)
            .await
            .map_err(|e| AppError::Encoding(format!("password hashing failed: {e}")))
    }

    /// Whether `password` matches `hash`. Without a hash (no such account) it checks against a
    /// stand-in, so that the answer takes as long either way and does not reveal which usernames
    /// exist.
    pub async fn verify_password(
        &self,
        password: String,
        hash: Option<String>,
    ) -> Result<bool, AppError> {
        let _permit = self.hashing.acquire().await.map_err(closed)?;
        tokio::task::spawn_blocking(move || {
            let known = hash.is_some();
            let hash = hash.as_deref().unwrap_or(&STAND_IN_HASH);
            password_auth::verify_password(password, hash).is_ok() && known
        })
        .await
        .map_err(|e| AppError::Encoding(format!("password check failed: {e}")))
    }

    /// The session cookie for `secret`: `HttpOnly` (no script reads it), `SameSite=Lax` (not sent
    /// with other sites' background requests), `Secure` with `--secure-cookies`.
    pub fn session_cookie(&self, secret: String) -> Cookie<'static> {
        Cookie::build((SESSION_COOKIE, secret))
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.secure_cookies)
            .max_age(cookie_duration(SESSION_LIFETIME))
            .build()
    }

    /// A cookie that makes the browser forget the session.
    pub fn ended_session_cookie(&self) -> Cookie<'static> {
        let mut cookie = self.session_cookie(String::new());
        cookie.make_removal();
        cookie
    }
}

/// Argon2id of `password` on the blocking pool, without a limit on how many run at once (for
/// the operator's command line; the server goes through [`AuthSettings::hash_password`]).
pub async fn hash_password(password: Password) -> Result<String, tokio::task::JoinError> {
    tokio::task::spawn_blocking(move || password_auth::generate_hash(password.expose())).await
}

fn cookie_duration(duration: Duration) -> cookie::time::Duration {
    cookie::time::Duration::seconds(duration.as_secs() as i64)
}

fn closed(_: tokio::sync::AcquireError) -> AppError {
    AppError::Encoding("the password hashing pool is closed".into())
}

static STAND_IN_HASH: LazyLock<String> =
    LazyLock::new(|| password_auth::generate_hash("no account has this password"));

/// A new secret: 256 random bits, in hex.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    // ThreadRng is a CSPRNG seeded from the operating system.
    rand::rng().fill_bytes(&mut bytes);
    hex(&bytes)
}

/// What the store keeps of a secret: its SHA-256 in hex.
pub fn digest(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// How the caller proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A browser session (the SHA-256 of its id).
    Session(String),
    /// A personal access token (and the SHA-256 of its secret, to check it again later).
    Token { id: TokenId, secret_hash: String },
}

/// The signed-in account making the request; extracting it answers 401 when there is none.
#[derive(Debug, Clone)]
pub struct Caller {
    pub account: Account,
    pub credential: Credential,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        authenticate(&parts.headers, state).await?.ok_or_else(|| {
            AppError::Unauthorized(
                "Sign in first, or send an access token as `Authorization: Bearer TOKEN`.".into(),
            )
        })
    }
}

/// Who sent `headers`: the bearer token's account (401 when it is not valid), else the session
/// cookie's (401 when the session ended), else nobody.
pub async fn authenticate(
    headers: &axum::http::HeaderMap,
    state: &AppState,
) -> Result<Option<Caller>, AppError> {
    {
        if let Some(authorization) = headers.get(AUTHORIZATION) {
            let secret = authorization
                .to_str()
                .ok()
                .and_then(bearer)
                .ok_or_else(|| {
                    AppError::Unauthorized(
                        "Send an access token as `Authorization: Bearer TOKEN`.".into(),
                    )
                })?;
            let secret_hash = digest(secret);
            let found = match state.access_cache.token(&secret_hash) {
                Some(found) => Some(found),
                None => {
                    let found = state.store.token_user(&secret_hash, now_ms()).await?;
                    if let Some(found) = &found {
                        state
                            .access_cache
                            .remember_token(&secret_hash, found.clone());
                    }
                    found
                }
            };
            let (account, token) = found.ok_or_else(|| {
                AppError::Unauthorized(
                    "This access token is not valid: it was revoked or mistyped.".into(),
                )
            })?;
            return Ok(Some(Caller {
                account,
                credential: Credential::Token {
                    id: token,
                    secret_hash,
                },
            }));
        }
        let Some(id_hash) = session_hash(&CookieJar::from_headers(headers)) else {
            return Ok(None);
        };
        let account = match state.access_cache.session(&id_hash) {
            Some(account) => account,
            None => {
                let account = state
                    .store
                    .session_user(&id_hash, now_ms())
                    .await?
                    .ok_or_else(|| {
                        AppError::Unauthorized("Your session has ended. Sign in again.".into())
                    })?;
                state
                    .access_cache
                    .remember_session(&id_hash, account.clone());
                account
            }
        };
        Ok(Some(Caller {
            account,
            credential: Credential::Session(id_hash),
        }))
    }
}

/// Who sent `headers`, for requests that serve anyone (the live feed, "who am I"): a bearer token
/// must be valid (401 otherwise); a session cookie that ended counts as nobody.
pub async fn optional_caller(
    headers: &axum::http::HeaderMap,
    state: &AppState,
) -> Result<Option<Caller>, AppError> {
    match authenticate(headers, state).await {
        Err(AppError::Unauthorized(_)) if !headers.contains_key(AUTHORIZATION) => Ok(None),
        other => other,
    }
}

/// The secret of an `Authorization: Bearer` value (the scheme is case-insensitive).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, secret) = value.split_once(' ')?;
    let secret = secret.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !secret.is_empty()).then_some(secret)
}

/// The SHA-256 of the session cookie's value, if the request has one.
pub fn session_hash(jar: &CookieJar) -> Option<String> {
    jar.get(SESSION_COOKIE).map(|cookie| digest(cookie.value()))
}

/// Starts a session for `account`: stored, and the cookie that carries it.
pub async fn start_session(
    state: &AppState,
    account: &Account,
) -> Result<Cookie<'static>, AppError> {
    let secret = new_secret();
    let now = now_ms();
    state
        .store
        .create_session(
            &digest(&secret),
            account.id,
            now,
            now + SESSION_LIFETIME.as_millis() as i64,
        )
        .await?;
    Ok(state.auth.session_cookie(secret))
}

/// The address of the client: the socket's peer, or for a request from a trusted proxy the last
/// address that proxy appended to `X-Forwarded-For` (earlier entries are the client's to forge).
pub fn client_ip(parts: &Parts, trusted_proxies: &[IpAddr]) -> Option<IpAddr> {
    let ConnectInfo(peer) = parts.extensions.get::<ConnectInfo<Peer>>()?;
    let peer = peer.addr.ip();
    if !trusted_proxies.contains(&peer) {
        return Some(peer);
    }
    let forwarded = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .next_back()
        .and_then(|hop| hop.trim().parse().ok());
    Some(forwarded.unwrap_or(peer))
}

/// The client's address as an extractor (`None` when the app runs without a socket, in tests).
pub struct ClientIp(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(client_ip(parts, &state.auth.trusted_proxies)))
    }
}

/// Counts an attempt from `ip` (sign-in or sign-up) and refuses it past the address's allowance.
pub async fn limit_address(state: &AppState, ip: Option<IpAddr>) -> Result<(), AppError> {
    let Some(ip) = ip else { return Ok(()) };
    let limit = state.auth.per_address;
    let now = now_ms();
    let hits = state
        .store
        .hit(&format!("address:{ip}"), limit.window_ms(), now)
        .await?;
    limit.check(hits, now)
}

/// Checks a username and password, within the rate limits; the account on success. Every
/// failure reads the same, so the answer does not tell which usernames exist.
pub async fn sign_in(
    state: &AppState,
    ip: Option<IpAddr>,
    username: &str,
    password: String,
) -> Result<Account, AppError> {
    limit_address(state, ip).await?;
    let refused = || AppError::Unauthorized("The username or the password is not right.".into());
    let Ok(username) = Username::parse(username) else {
        return Err(refused());
    };
    let limit = state.auth.per_account;
    let key = format!("account:{}", username.as_str());
    let now = now_ms();
    // The account's window counts failures only: someone else's wrong guesses lock the account
    // for a while, but its owner's successful sign-ins never do.
    let failures = state.store.hits(&key, now).await?;
    limit.check(
        Hits {
            count: failures.count + 1,
            ..failures
        },
        now,
    )?;
    let found = state.store.user_by_name(&username).await?;
    let (account, hash) = match found {
        Some((account, hash)) => (Some(account), Some(hash)),
        None => (None, None),
    };
    if state.auth.verify_password(password, hash).await? {
        return account.ok_or_else(refused);
    }
    state.store.hit(&key, limit.window_ms(), now).await?;
    Err(refused())
}

/// A signed-in account, or a username and password sent as HTTP Basic credentials (checked like a
/// sign-in, within its rate limits): how `tasktick login` trades a password for an access token.
pub struct SignedIn(pub Account);

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        use axum_extra::TypedHeader;
        use axum_extra::headers::Authorization;
        use axum_extra::headers::authorization::Basic;
        match TypedHeader::<Authorization<Basic>>::from_request_parts(parts, state).await {
            Ok(TypedHeader(Authorization(basic))) => {
                let ip = client_ip(parts, &state.auth.trusted_proxies);
                let account =
                    sign_in(state, ip, basic.username(), basic.password().to_owned()).await?;
                Ok(Self(account))
            }
            Err(_) => Ok(Self(
                Caller::from_request_parts(parts, state).await?.account,
            )),
        }
    }
}

/// Shared handle type for the settings in [`AppState`].
pub type Auth = Arc<AuthSettings>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_limit_allows_its_attempts_and_then_says_how_long_to_wait() {
        let limit = RateLimit {
            attempts: 3,
            window: Duration::from_secs(60),
        };
        let at = |count| Hits {
            count,
            resets_at_ms: 10_500,
        };
        assert!(limit.check(at(3), 0).is_ok());
        assert!(matches!(
            limit.check(at(4), 0),
            Err(AppError::TooManyRequests {
                retry_after_secs: 11
            })
        ));
        assert!(matches!(
            limit.check(at(4), 10_499),
            Err(AppError::TooManyRequests {
                retry_after_secs: 1
            })
        ));
    }

    #[test]
    fn secrets_are_long_random_and_stored_as_their_digest() {
        let (a, b) = (new_secret(), new_secret());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert_eq!(digest(&a), digest(&a));
        assert_ne!(digest(&a), a);
    }

    #[test]
    fn only_a_bearer_authorization_carries_a_token() {
        assert_eq!(bearer("Bearer tt_abc"), Some("tt_abc"));
        assert_eq!(bearer("bearer  tt_abc "), Some("tt_abc"));
        assert_eq!(bearer("Basic dXNlcjpwdw=="), None);
        assert_eq!(bearer("Bearer "), None);
    }
}
