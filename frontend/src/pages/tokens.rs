//! Personal access tokens: listed with when they were last used, made (the secret shown once) and
//! revoked.

use leptos::ev::SubmitEvent;
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::TokenInfo;

use super::checked_name;
use crate::api;

/// The tokens page.
#[component]
pub fn TokensPage() -> impl IntoView {
    let tokens = RwSignal::new(Vec::<TokenInfo>::new());
    let secret = RwSignal::new(None::<String>);
    let error = RwSignal::new(None::<String>);
    let refresh = move || {
        spawn_local(async move {
            match api::tokens().await {
                Ok(list) => tokens.set(list),
                Err(refusal) => error.set(Some(refusal.to_string())),
            }
        });
    };
    refresh();
    let name = NodeRef::<html::Input>::new();
    let create = move |event: SubmitEvent| {
        event.prevent_default();
        let Some(raw) = checked_name(name, error) else {
            return;
        };
        spawn_local(async move {
            match api::create_token(&raw).await {
                Ok(issued) => {
                    secret.set(Some(issued.secret));
                    error.set(None);
                    refresh();
                }
                Err(refusal) => error.set(Some(refusal.to_string())),
            }
        });
    };
    let rows = move || {
        tokens
            .get()
            .into_iter()
            .map(|token| {
                let id = token.id;
                let used = token
                    .last_used_at
                    .map(|at| format!("last used {}", at.to_minute()))
                    .unwrap_or_else(|| "never used".into());
                view! {
                    <li class="token">
                        <span class="token-name">{token.name.clone()}</span>
                        <small>{used}</small>
                        <button
                            type="button"
                            class="secondary"
                            aria-label=format!("Revoke {}", token.name)
                            on:click=move |_| {
                                spawn_local(async move {
                                    match api::revoke_token(id).await {
                                        Ok(()) => refresh(),
                                        Err(refusal) => error.set(Some(refusal.to_string())),
                                    }
                                });
                            }
                        >
                            "Revoke"
                        </button>
                    </li>
                }
            })
            .collect_view()
    };
    view! {
        <section class="card" aria-labelledby="tokens-heading">
            <h2 id="tokens-heading">"Access tokens"</h2>
            <p>"For the console client and scripts: send one as " <code>"Authorization: Bearer TOKEN"</code> "."</p>
            <ul class="token-list">{rows}</ul>
            <form id="new-token" class="add-form" on:submit=create>
                <label for="token-name">"New token"</label>
                <input id="token-name" type="text" node_ref=name placeholder="What it is for" required />
                <button type="submit">"Create"</button>
            </form>
            <p class="token-secret" hidden=move || secret.with(Option::is_none)>
                "Copy it now, it is shown only once: " <code>{move || secret.get()}</code>
            </p>
            <p class="field-error" role="alert">{move || error.get()}</p>
        </section>
    }
}
