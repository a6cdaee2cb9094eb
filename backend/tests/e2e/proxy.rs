//! nginx in front of several `tasktick` processes, configured from `deploy/nginx` exactly as
//! `cargo xtask cluster` configures it.

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// A running nginx; dropping it stops it.
pub struct Nginx {
    child: Child,
    pub port: u16,
    _dir: TempDir,
}

impl Nginx {
    /// Starts nginx on a free port, proxying to `upstreams`, and waits until it accepts connections.
    pub fn start(upstreams: &[SocketAddr]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = crate::browser::free_port();
        let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/nginx");
        let template = std::fs::read_to_string(deploy.join("local-cluster.conf.in")).unwrap();
        let servers: Vec<String> = upstreams
            .iter()
            // Never marked down: a dead instance on loopback refuses at once, and nginx moves on.
            .map(|addr| format!("        server {addr} max_fails=0;"))
            .collect();
        let config = template
            .replace("@DIR@", &dir.path().display().to_string())
            .replace("@PORT@", &port.to_string())
            .replace("@SERVERS@", &servers.join("\n"))
            .replace(
                "@LOCATIONS@",
                &deploy.join("tasktick-locations.conf").display().to_string(),
            );
        let path = dir.path().join("nginx.conf");
        std::fs::write(&path, config).unwrap();
        let nginx = std::env::var("TASKTICK_NGINX").unwrap_or_else(|_| "/usr/sbin/nginx".into());
        let child = Command::new(&nginx)
            .args(["-e", "stderr", "-p"])
            .arg(dir.path())
            .arg("-c")
            .arg(&path)
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {nginx} (run `cargo xtask test`, which installs it): {e}")
            });
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nginx did not start listening");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            child,
            port,
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let _ = self.child.wait();
    }
}
