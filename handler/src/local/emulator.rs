//! The local AWS: moto in server mode, the emulator the demo and the end-to-end tests run against.
//! Installs it on first use into a virtual environment under the user's cache directory (a pinned
//! version, from PyPI), starts it on a free loopback port, drives its control API (reset, policy
//! enforcement on or off, sent notifications), and stops it when dropped. Nothing here is used on a
//! real account.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The moto version Warden is tested with (`shared/guide/local-aws.md` was verified with it).
pub const MOTO_VERSION: &str = "5.2.5";

/// Why the local AWS could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LocalAwsError {
    #[error("installing moto {MOTO_VERSION} into `{dir}` failed: {why}")]
    Install { dir: String, why: String },
    #[error("starting `{program}` failed: {source}")]
    Start {
        program: String,
        source: std::io::Error,
    },
    #[error("moto did not answer on port {port} within {seconds} s")]
    NotReady { port: u16, seconds: u64 },
    #[error("moto control call `{what}` failed: {why}")]
    Control { what: String, why: String },
}

/// A running moto server; stopped when dropped.
#[derive(Debug)]
pub struct LocalAws {
    child: Child,
    pub port: u16,
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
}

/// Where the pinned moto is installed: `$WARDEN_LOCAL_AWS_DIR`, else the user's cache directory.
pub fn install_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("WARDEN_LOCAL_AWS_DIR") {
        return PathBuf::from(d);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("warden").join(format!("moto-{MOTO_VERSION}"))
}

/// The virtual environment's Python that runs moto, installed first when missing (`python3 -m venv`
/// and `pip install`).
pub fn ensure_installed(progress: &mut dyn FnMut(&str)) -> Result<PathBuf, LocalAwsError> {
    let dir = install_dir();
    let program = dir.join("bin").join("python");
    let installed = || program.is_file() && dir.join("bin").join("moto_server").is_file();
    if installed() {
        return Ok(program);
    }
    // One install per process at a time (the tests of one binary start emulators from many
    // threads); the others wait and then find it installed.
    static INSTALLING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = INSTALLING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if installed() {
        return Ok(program);
    }
    let fail = |why: String| LocalAwsError::Install {
        dir: dir.display().to_string(),
        why,
    };
    progress(&format!(
        "installing the local AWS (moto {MOTO_VERSION}) into {} (once; about a minute)",
        dir.display()
    ));
    // Installed beside the target and renamed into place, so concurrent first uses (tests run in
    // parallel) never see a half-made environment.
    let mut staging = dir.clone().into_os_string();
    staging.push(format!(".staging-{}", std::process::id()));
    let staging = PathBuf::from(staging);
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let _ = std::fs::remove_dir_all(&staging);
    run(Command::new(&python).args(["-m", "venv"]).arg(&staging)).map_err(fail)?;
    run(Command::new(staging.join("bin").join("pip"))
        .args(["install", "--quiet", "--disable-pip-version-check"])
        .arg(format!("moto[server]=={MOTO_VERSION}")))
    .map_err(fail)?;
    // Scripts in `bin/` name the staging path; moto is started as `bin/python -m moto.server`,
    // which does not care.
    if std::fs::rename(&staging, &dir).is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    if program.is_file() {
        Ok(program)
    } else {
        Err(fail("pip finished but `bin/python` is missing".to_owned()))
    }
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn free_port() -> Result<u16, std::io::Error> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl LocalAws {
    /// Installs (when needed) and starts moto on a free loopback port, and waits until it answers.
    pub fn start() -> Result<Self, LocalAwsError> {
        Self::start_with(&mut |_| {})
    }

    pub fn start_with(progress: &mut dyn FnMut(&str)) -> Result<Self, LocalAwsError> {
        let program = ensure_installed(progress)?;
        let start_err = |source| LocalAwsError::Start {
            program: program.display().to_string(),
            source,
        };
        // A port taken between the check and moto's bind is retried with another.
        let mut last = None;
        for _ in 0..3 {
            let port = free_port().map_err(start_err)?;
            // `WARDEN_LOCAL_AWS_LOG=FILE` keeps moto's request log (for debugging a test).
            let log = || {
                std::env::var_os("WARDEN_LOCAL_AWS_LOG")
                    .and_then(|p| {
                        std::fs::OpenOptions::new()
                            .create(true)
                            .append(true)
                            .open(p)
                            .ok()
                    })
                    .map_or_else(Stdio::null, Stdio::from)
            };
            let child = Command::new(&program)
                .args([
                    "-m",
                    "moto.server",
                    "-H",
                    "127.0.0.1",
                    "-p",
                    &port.to_string(),
                ])
                .stdin(Stdio::null())
                .stdout(log())
                .stderr(log())
                .spawn()
                .map_err(start_err)?;
            let mut server = Self {
                child,
                port,
                endpoint: format!("http://127.0.0.1:{port}"),
            };
            match server.wait_ready(Duration::from_secs(30)) {
                Ok(()) => return Ok(server),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or(LocalAwsError::NotReady {
            port: 0,
            seconds: 30,
        }))
    }

    fn wait_ready(&mut self, limit: Duration) -> Result<(), LocalAwsError> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            if self.http("GET", "/moto-api/data.json", "", "").is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(LocalAwsError::NotReady {
            port: self.port,
            seconds: limit.as_secs(),
        })
    }

    /// SDK configuration for this server: region `us-east-1`, static test credentials, the SDK's
    /// retries off (Warden retries in `aws::Caller`).
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        self.sdk_config_as("testing", "testing").await
    }

    /// The same, signing as the given access key (for calls checked with enforcement on).
    pub async fn sdk_config_as(&self, access_key: &str, secret: &str) -> aws_config::SdkConfig {
        self.sdk_config_session(access_key, secret, None).await
    }

    /// The same, with a session token (temporary credentials of an assumed role).
    pub async fn sdk_config_session(
        &self,
        access_key: &str,
        secret: &str,
        session_token: Option<&str>,
    ) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .http_client(crate::aws::https::client())
            .credentials_provider(aws_sdk_iam::config::Credentials::new(
                access_key,
                secret,
                session_token.map(str::to_owned),
                None,
                "warden-local-aws",
            ))
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .load()
            .await
    }

    /// Forgets every resource in every account (`POST /moto-api/reset`).
    pub fn reset(&self) -> Result<(), LocalAwsError> {
        self.http("POST", "/moto-api/reset", "", "").map(drop)
    }

    /// Turns IAM policy enforcement on (`true`) or off. Create the admin and its keys first, with
    /// enforcement off: from then on every call is signature-checked and evaluated.
    pub fn enforce_policies(&self, on: bool) -> Result<(), LocalAwsError> {
        self.http(
            "POST",
            "/moto-api/reset-auth",
            "text/plain",
            if on { "0" } else { "inf" },
        )
        .map(drop)
    }

    /// Everything moto holds, as its control API shows it (SNS notifications sent, among others).
    pub fn data(&self) -> Result<serde_json::Value, LocalAwsError> {
        let body = self.http("GET", "/moto-api/data.json", "", "")?;
        serde_json::from_str(&body).map_err(|e| LocalAwsError::Control {
            what: "GET /moto-api/data.json".to_owned(),
            why: e.to_string(),
        })
    }

    /// One HTTP/1.1 request to the control API; the body of a 2xx answer.
    fn http(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &str,
    ) -> Result<String, LocalAwsError> {
        let what = format!("{method} {path}");
        let fail = |why: String| LocalAwsError::Control {
            what: what.clone(),
            why,
        };
        let mut s =
            TcpStream::connect(("127.0.0.1", self.port)).map_err(|e| fail(e.to_string()))?;
        s.set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(|e| fail(e.to_string()))?;
        let ct = if content_type.is_empty() {
            String::new()
        } else {
            format!("Content-Type: {content_type}\r\n")
        };
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n{ct}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.port,
            body.len()
        );
        s.write_all(req.as_bytes())
            .map_err(|e| fail(e.to_string()))?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).map_err(|e| fail(e.to_string()))?;
        let text = String::from_utf8_lossy(&raw);
        let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
            .unwrap_or(0);
        if !(200..300).contains(&status) {
            return Err(fail(format!("HTTP {status}")));
        }
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(rest)
        } else {
            rest.to_owned()
        };
        Ok(body)
    }
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 {
            break;
        }
        out.push_str(after.get(..n).unwrap_or(after));
        rest = after.get(n + 2..).unwrap_or("");
    }
    out
}

impl Drop for LocalAws {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
