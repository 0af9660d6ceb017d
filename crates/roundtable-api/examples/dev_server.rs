//! Serves the HTTP API on 127.0.0.1 over the embedded store in a directory, for trying
//! the API by hand or fuzzing it with schemathesis:
//!
//! ```text
//! cargo run -p roundtable-api --example dev_server -- ./dev-data 127.0.0.1:8080
//! ```
//!
//! In development mode (no tokens), unless `ROUNDTABLE_JWT_SECRET` holds an HS256
//! secret: then tokens are required, and a secretariat token valid for an hour is
//! printed on standard output.
//!
//! The binary (`roundtable serve`) is the real thing; this example has no projector, so
//! agreement views appear only where something else projects them.

use std::net::SocketAddr;
use std::sync::Arc;

use roundtable_api::{ApiState, AuthConfig, is_loopback, router};
use roundtable_projector::KvViewStore;
use roundtable_sqlite::{SqliteBuckets, SqliteStore};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| "./dev-data".into());
    let addr: SocketAddr = args
        .next()
        .unwrap_or_else(|| "127.0.0.1:8080".into())
        .parse()?;
    if !is_loopback(&addr) {
        return Err(format!("development mode listens on loopback only, not {addr}").into());
    }
    let store = SqliteStore::open_in_dir(std::path::Path::new(&dir))?;
    let views = Arc::new(KvViewStore::open(&SqliteBuckets::new(&store)).await?);
    let auth = match std::env::var("ROUNDTABLE_JWT_SECRET") {
        Ok(_) => {
            let auth = AuthConfig::hs256_from_env("ROUNDTABLE_JWT_SECRET")?;
            let token = auth.mint(
                roundtable_api::TokenRole::Secretariat,
                None,
                None,
                std::time::Duration::from_secs(3600),
            )?;
            println!("{token}");
            auth
        }
        Err(_) => {
            eprintln!("DEVELOPMENT MODE: no tokens, every request is the secretariat");
            AuthConfig::development()
        }
    };
    let state = ApiState::new(Arc::new(store), views, auth);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    eprintln!("listening on http://{addr}");
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
