//! Wire types and rules shared by the tasktick server and its browser client.
//!
//! Everything that crosses the network is defined here once: the REST request and response bodies
//! ([`task`]), accounts, boards and members ([`account`]), the one error body ([`problem`]), the WebSocket messages ([`ws`]) and the transport
//! lab's readings ([`lab`]). The validation
//! rules live here too, so the browser refuses exactly what the server would refuse, before sending.
//! This crate depends on serde only (and, for the server, chrono to make timestamps): no HTTP,
//! web or async framework.

pub mod account;
pub mod lab;
pub mod problem;
pub mod task;
pub mod timestamp;
pub mod ws;

pub use account::{
    Account, Board, BoardFields, BoardId, Credentials, FieldRule, IssuedToken, Member, MemberRole,
    Name, NewMember, Password, Role, TokenFields, TokenId, TokenInfo, UserId, Username,
};
pub use lab::{CLOCK_PATH, ClockReading, LabReport, LabRun, LaneReport, Transport};
pub use problem::{FieldError, Problem};
pub use task::{
    CreateTask, NewTask, PatchError, Task, TaskId, TaskPatch, TaskTitle, TitleError, UpdateTask,
};
pub use timestamp::Timestamp;
pub use ws::{ClientMsg, EndReason, ServerMsg};

/// Path prefix of the REST API.
pub const API_PREFIX: &str = "/api";
/// Path of a board's task collection.
pub fn tasks_path(board: BoardId) -> String {
    format!("{BOARDS_PATH}/{board}/tasks")
}
/// Path of sign-up (`POST`).
pub const ACCOUNTS_PATH: &str = "/api/accounts";
/// Path of the browser session: sign in (`POST`), who am I (`GET`), sign out (`DELETE`).
pub const SESSION_PATH: &str = "/api/session";
/// Path of the personal access tokens.
pub const TOKENS_PATH: &str = "/api/tokens";
/// Path of the board collection.
pub const BOARDS_PATH: &str = "/api/boards";
/// Name of the cookie that carries a browser session.
pub const SESSION_COOKIE: &str = "tasktick_session";
/// Path of the live feed as Server-Sent Events.
pub const EVENTS_PATH: &str = "/api/events";
/// Path of the WebSocket endpoint.
pub const WS_PATH: &str = "/ws";
/// Path of the liveness probe.
pub const HEALTH_PATH: &str = "/healthz";

/// Response header of a task list (`GET /api/boards/{board}/tasks`) carrying the event `seq` the list is consistent with: apply
/// live events newer than it on top of the list.
pub const SEQ_HEADER: &str = "tasktick-seq";

/// Response header of a task list naming the store the list (and its `seq`) comes from; the
/// same identity as in the WebSocket's `hello`.
pub const STORE_HEADER: &str = "tasktick-store";

/// What a trimmed, non-empty text without control characters looks like, as a regular
/// expression for the OpenAPI document (task titles, board and token names).
pub const TEXT_PATTERN: &str =
    r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$";

/// Largest request body the REST API reads, in bytes; a larger one is refused with 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
