//! Putting the server together: settings -> provider client -> state -> router -> listener,
//! with discovery loaded in the background, the open-file limit raised, the connection cap
//! set, and a graceful shutdown.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use leptos::config::LeptosOptions;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use url::Url;

use super::listener::ConnectionLimit;
use super::session::SessionSigner;
use super::shutdown::wait_for_signal;
use super::site::SiteFiles;
use super::state::{AppState, DemoProvider};
use crate::limits::streams::StreamLimiter;
use crate::model::KioskInfo;
use crate::oidc::{ProviderClient, ProviderConfig, ProviderError, ProviderSource};
use crate::pairing::store::memory::MemoryStore;
use crate::pairing::store::redis::RedisStore;
use crate::pairing::store::SessionStore;
use crate::pairing::Hub;
use crate::settings::{ProviderChoice, Settings};

/// The demo provider's public client.
pub const DEMO_CLIENT_ID: &str = "tvsignin-demo";

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot set up the provider client: {0}")]
    Provider(#[from] ProviderError),
    #[error("cannot use the session store at REDIS_URL ({host}): {source}")]
    Store {
        host: String,
        source: crate::pairing::store::StoreError,
    },
}

/// Leptos' own options: where the compiled site is (`SITE_DIR`, else found from the binary,
/// see [`SiteFiles`]) and whether its files carry hashes (when a `hash.txt` lists them).
pub fn leptos_options(addr: SocketAddr, site_dir: Option<&std::path::Path>) -> LeptosOptions {
    let site = SiteFiles::locate(site_dir);
    let mut options = LeptosOptions::builder()
        .output_name("tvsignin")
        .site_root(site.root.to_string_lossy().into_owned())
        .site_pkg_dir("pkg")
        .site_addr(addr)
        .hash_files(site.hash_file.is_some())
        .build();
    if let Some(hash_file) = site.hash_file {
        options.hash_file = hash_file.to_string_lossy().into_owned().into();
    }
    options
}

/// The address phones on the LAN can reach, found by asking the OS which interface it
/// would route through (a UDP "connect" sends nothing).
fn lan_address() -> Option<IpAddr> {
    let socket = std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
    socket.connect((Ipv4Addr::new(192, 0, 2, 1), 9)).ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

/// The URL people use to reach this server: PUBLIC_URL, else (listening on all interfaces)
/// the LAN address, else the listening address.
pub fn public_base(settings: &Settings, bound: SocketAddr) -> Url {
    if let Some(url) = &settings.public_url {
        return url.clone();
    }
    let host = if bound.ip().is_unspecified() {
        lan_address().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
    } else {
        bound.ip()
    };
    let text = match host {
        IpAddr::V6(v6) => format!("http://[{v6}]:{}/", bound.port()),
        IpAddr::V4(v4) => format!("http://{v4}:{}/", bound.port()),
    };
    Url::parse(&text).unwrap_or_else(|_| Url::parse("http://127.0.0.1:3000/").expect("static URL"))
}

/// Builds the state for a server listening on `bound`.
/// The state with sessions kept in memory (tests, and servers without `REDIS_URL`).
pub fn build_state(
    settings: Settings,
    bound: SocketAddr,
    shutdown: CancellationToken,
) -> Result<AppState, StartError> {
    build_state_with_store(settings, bound, shutdown, Arc::new(MemoryStore::new()))
}

/// Opens the session store the settings ask for: Redis with `REDIS_URL`, else memory.
pub async fn open_store(
    settings: &Settings,
    shutdown: CancellationToken,
) -> Result<Arc<dyn SessionStore>, StartError> {
    let Some(redis) = &settings.redis else {
        return Ok(Arc::new(MemoryStore::new()));
    };
    let store = RedisStore::connect(redis, shutdown)
        .await
        .map_err(|source| StartError::Store {
            host: redis.url.host_str().unwrap_or_default().to_owned(),
            source,
        })?;
    // The lease must outlast any provider request a replica starts under it.
    let store = match &settings.provider {
        crate::settings::ProviderChoice::External(config) => {
            store.with_request_timeout(config.request_timeout)
        }
        crate::settings::ProviderChoice::Demo { .. } => store,
    };
    tracing::info!(
        host = redis.url.host_str(),
        tls = redis.uses_tls(),
        "sessions are kept in Redis"
    );
    if !redis.uses_tls() && !crate::settings::is_this_machine(&redis.url) {
        tracing::warn!(
            host = redis.url.host_str(),
            "REDIS_URL is redis://, so session traffic crosses the network unencrypted \
             (sessions are sealed, but the Redis password and key names are not); use rediss://"
        );
    }
    Ok(Arc::new(store))
}

/// The built-in demo provider (no provider configured), served by this server under
/// `/demo-idp`, and the client settings that reach it.
#[cfg(feature = "demo")]
fn demo_provider(
    settings: &Settings,
    bound: SocketAddr,
    public: &Url,
) -> Result<(ProviderConfig, Option<DemoProvider>), StartError> {
    use crate::demo_idp::{DemoConfig, DemoIdp, DemoTiming};
    let ProviderChoice::Demo {
        extra_users,
        code_ttl,
        interval,
    } = &settings.provider
    else {
        unreachable!("called for the demo provider only")
    };
    // The server talks to its own demo provider over loopback; phones use the public URL.
    let loopback_ip = if bound.is_ipv6() && !bound.ip().is_unspecified() {
        "[::1]"
    } else {
        "127.0.0.1"
    };
    let base = settings.front_door.base_path.as_str();
    let issuer = Url::parse(&format!(
        "http://{loopback_ip}:{}{base}/demo-idp",
        bound.port()
    ))
    .map_err(|e| ProviderError::Unsupported(format!("demo issuer: {e}")))?;
    let demo = Arc::new(DemoIdp::new(DemoConfig {
        issuer: issuer.clone(),
        public_base: public.clone(),
        client_id: DEMO_CLIENT_ID.to_owned(),
        extra_users: extra_users.clone(),
        timing: DemoTiming {
            code_ttl: *code_ttl,
            interval: *interval,
            ..DemoTiming::default()
        },
        trusted_proxy_hops: settings.trusted_proxy_hops(),
        language: settings.screens.language,
    }));
    Ok((
        ProviderConfig::new(ProviderSource::Issuer(issuer), DEMO_CLIENT_ID),
        Some(demo),
    ))
}

/// Settings refuse a demo provider in a build without one (see `settings`).
#[cfg(not(feature = "demo"))]
fn demo_provider(
    _: &Settings,
    _: SocketAddr,
    _: &Url,
) -> Result<(ProviderConfig, Option<DemoProvider>), StartError> {
    Err(StartError::Provider(ProviderError::Unsupported(
        "this build has no demo provider: set ISSUER or TENANT_URL".into(),
    )))
}

pub fn build_state_with_store(
    settings: Settings,
    bound: SocketAddr,
    shutdown: CancellationToken,
    store: Arc<dyn SessionStore>,
) -> Result<AppState, StartError> {
    let public = super::base_path::with_base(
        public_base(&settings, bound),
        &settings.front_door.base_path,
    );
    let (config, demo) = match &settings.provider {
        ProviderChoice::External(config) => (config.clone(), None),
        ProviderChoice::Demo { .. } => demo_provider(&settings, bound, &public)?,
    };
    let kiosk = KioskInfo {
        demo: demo.is_some(),
        provider_name: if demo.is_some() {
            "demo".to_owned()
        } else {
            host_of(&config.source)
        },
        org_name: settings.screens.org_name.clone(),
        has_logo: settings.screens.logo.is_some(),
        app: settings.front_door.app.clone(),
    };
    let provider = Arc::new(ProviderClient::new(config)?);
    // Every replica must accept every replica's session ids: with Redis the key comes from
    // STORE_KEY; in memory the sessions die with the process, and so may the key.
    let sessions = Arc::new(match &settings.redis {
        Some(redis) => SessionSigner::from_store_keys(&redis.key),
        None => SessionSigner::random(),
    });
    let push_streams = StreamLimiter::new(settings.max_push_streams_per_address);
    let hub = Hub::new(
        provider.clone(),
        settings.kiosk.clone(),
        store,
        shutdown.clone(),
    );
    let leptos_options = leptos_options(bound, settings.site_dir.as_deref());
    let forward_auth = Arc::new(super::forward_auth::ForwardAuth::new(
        &settings.front_door,
        &public,
    ));
    // The page's messages in every language, formatted once; the delay before the app (a
    // setting) chooses its plural here.
    let continue_secs = kiosk.app.as_ref().map_or(0, |app| app.continue_secs);
    let texts = Arc::new(crate::i18n::catalog::Catalog::new(
        crate::i18n::catalog::SCREENS,
        &[("continue-note", ("seconds", continue_secs.into()))],
    ));
    Ok(AppState {
        tv_scripts: super::tiers::TvScripts::new(&leptos_options, &settings.front_door.base_path),
        leptos_options,
        settings: Arc::new(settings),
        provider,
        hub,
        kiosk,
        shutdown,
        demo,
        public_url: public,
        sessions,
        push_streams,
        forward_auth,
        texts,
    })
}

fn host_of(source: &ProviderSource) -> String {
    match source {
        ProviderSource::Issuer(u) | ProviderSource::Tenant(u) => {
            u.host_str().unwrap_or("identity provider").to_owned()
        }
        ProviderSource::Manual => "identity provider".to_owned(),
    }
}

/// Loads discovery now and keeps retrying (2 s doubling to 30 s) until it works; afterwards
/// re-checks every 30 s while the provider reports trouble, so readiness recovers by itself.
pub fn spawn_discovery(provider: Arc<ProviderClient>, shutdown: CancellationToken) {
    tokio::spawn(async move {
        let mut wait = Duration::from_secs(2);
        loop {
            let healthy = provider.health();
            if !healthy.discovery_loaded || healthy.last_error.is_some() {
                match provider.load_endpoints().await {
                    Ok(_) => {
                        tracing::info!(provider = %provider.config().source.display(), "provider discovery loaded");
                        wait = Duration::from_secs(30);
                    }
                    Err(error) => {
                        tracing::warn!(%error, "provider discovery failed; retrying in {wait:?}");
                        wait = (wait * 2).min(Duration::from_secs(30));
                    }
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    });
}

/// Serves until shutdown is signalled; open push streams and polling tasks end first.
pub async fn serve(listener: TcpListener, state: AppState) {
    let shutdown = state.shutdown.clone();
    // Compress the browser files in the background, so start-up never waits for this: until
    // the copies exist (or where they cannot be written), the compression layer compresses
    // each answer on the fly instead.
    let pkg = std::path::Path::new(&*state.leptos_options.site_root)
        .join(&*state.leptos_options.site_pkg_dir);
    tokio::task::spawn_blocking(move || match super::assets::precompress(&pkg) {
        Ok(n) if n > 0 => tracing::info!("precompressed {n} browser files"),
        Ok(_) => {}
        Err(error) => {
            tracing::warn!(%error, "cannot precompress the browser files; compressing them on each request instead")
        }
    });
    spawn_discovery(state.provider.clone(), shutdown.clone());
    let limit = ConnectionLimit {
        max: super::open_files::connection_limit(
            state.settings.max_connections,
            super::open_files::current(),
        ),
        metrics: Some(state.metrics().clone()),
    };
    let app = super::router(state);
    super::listener::serve(listener, app, shutdown, limit).await;
}

/// Runs the server with these settings until Ctrl-C or SIGTERM.
pub async fn run(settings: Settings) -> Result<(), StartError> {
    super::open_files::raise();
    let addr = settings.listen_addr();
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Listen { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| StartError::Listen { addr, source })?;
    let shutdown = CancellationToken::new();
    let store = open_store(&settings, shutdown.clone()).await?;
    let state = build_state_with_store(settings, bound, shutdown.clone(), store)?;
    let public = state.public_url.clone();
    #[cfg(feature = "demo")]
    if state.kiosk.demo {
        for line in crate::demo_idp::banner(&public) {
            tracing::warn!("{line}");
        }
        if state.settings.public_url.is_none() && bound.ip().is_unspecified() {
            tracing::info!(
                "phones will reach this server at {} (the LAN address; set PUBLIC_URL to choose)",
                public.host_str().unwrap_or("?")
            );
        }
        tracing::info!("phones open {}demo-idp/device", public);
    }
    let site = std::path::Path::new(&*state.leptos_options.site_root);
    if !site.join("pkg").is_dir() {
        tracing::warn!(
            "no browser files in {} (no pkg/ there): the TV page has no styles and no WebAssembly; set SITE_DIR",
            site.display()
        );
    }
    tracing::info!("open {public} on the TV (listening on {bound})");
    tokio::spawn(wait_for_signal(shutdown.clone()));
    let hub = state.hub.clone();
    serve(listener, state).await;
    // Streams and tasks have ended: hand this replica's sessions to the others now.
    hub.release().await;
    Ok(())
}
