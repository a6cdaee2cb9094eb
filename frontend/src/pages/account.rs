//! Sign-in and sign-up: one form, two modes. The shared username and password rules run before
//! sending; the server's refusal (wrong password, taken name, too many attempts) shows beside it.

use crate::location::use_location;
use leptos::ev::SubmitEvent;
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::{Account, Credentials, Password, Username};

use crate::api;

/// Which of the two the form does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    SignIn,
    SignUp,
}

impl Mode {
    fn title(self) -> &'static str {
        match self {
            Self::SignIn => "Sign in",
            Self::SignUp => "Create an account",
        }
    }
}

/// The form; on success the account is stored in `session` and the board list opens.
#[component]
pub fn AccountForm(mode: Mode, session: RwSignal<Option<Account>>) -> impl IntoView {
    let username = NodeRef::<html::Input>::new();
    let password = NodeRef::<html::Input>::new();
    let error = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);
    let location = use_location();
    let submit = move |event: SubmitEvent| {
        event.prevent_default();
        let (Some(name), Some(secret)) = (username.get_untracked(), password.get_untracked())
        else {
            return;
        };
        let credentials = Credentials {
            username: name.value(),
            password: secret.value(),
        };
        if mode == Mode::SignUp {
            let rules = [
                Username::parse(&credentials.username).err(),
                Password::parse(&credentials.password).err(),
            ];
            if let Some(rule) = rules.into_iter().flatten().next() {
                error.set(Some(rule.to_string()));
                return;
            }
        }
        pending.set(true);
        spawn_local(async move {
            let outcome = match mode {
                Mode::SignIn => api::sign_in(&credentials).await,
                Mode::SignUp => api::sign_up(&credentials).await,
            };
            pending.set(false);
            match outcome {
                Ok(account) => {
                    error.set(None);
                    session.set(Some(account));
                    location.navigate("/");
                }
                Err(refusal) => error.set(Some(refusal.to_string())),
            }
        });
    };
    let (other_href, other_text) = match mode {
        Mode::SignIn => ("/signup", "No account yet? Create one."),
        Mode::SignUp => ("/signin", "Have an account? Sign in."),
    };
    view! {
        <section class="card account" aria-labelledby="account-heading">
            <h2 id="account-heading">{mode.title()}</h2>
            <form id="account-form" on:submit=submit>
                <label for="username">"Username"</label>
                <input id="username" type="text" autocomplete="username" node_ref=username required />
                <label for="password">"Password"</label>
                <input
                    id="password"
                    type="password"
                    autocomplete=if mode == Mode::SignIn { "current-password" } else { "new-password" }
                    node_ref=password
                    required
                />
                <button type="submit" disabled=move || pending.get()>{mode.title()}</button>
                <p class="field-error" role="alert">{move || error.get()}</p>
            </form>
            <p><a href=other_href>{other_text}</a></p>
        </section>
    }
}
