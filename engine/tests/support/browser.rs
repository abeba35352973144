//! Headless Chromium for the console's tests: Debian's `chromium` driven through its
//! `chromedriver` over WebDriver (fantoccini), with the flags a machine without outside
//! network needs, a fresh profile, the browser's console log kept, and screenshots saved
//! under `target/console-screenshots/` as test artifacts.

#![allow(dead_code, unreachable_pub)]

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::error::CmdError;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// How long a test waits for the page to show something.
pub const WAIT: Duration = Duration::from_secs(20);

/// A browser session and the chromedriver behind it.
pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
    shots: PathBuf,
}

impl Drop for Browser {
    /// Ends chromedriver and every browser process it started: they share its process group
    /// (killing chromedriver alone leaves Chromium running, a whole browser per test run).
    fn drop(&mut self) {
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn find(names: &[&str]) -> Option<PathBuf> {
    names.iter().map(PathBuf::from).find(|p| p.exists())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `POST /session/{id}/se/log` with `{"type": "browser"}`: the page's console messages.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({"type": "browser"}).to_string()),
        )
    }
}

impl Browser {
    /// Starts chromedriver on a free loopback port and a headless Chromium session.
    pub async fn start() -> Self {
        let chromium = find(&["/usr/bin/chromium", "/usr/bin/chromium-browser"]).expect(
            "chromium is not installed; scripts/test.sh installs it (apt-get install chromium)",
        );
        let chromedriver = find(&["/usr/bin/chromedriver"])
            .expect("chromedriver is not installed; scripts/test.sh installs it (apt-get install chromium-driver)");
        let port = free_port();
        let driver = Command::new(chromedriver)
            .process_group(0)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver runs");
        let profile = tempfile::tempdir().expect("profile directory");
        let args = [
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--window-size=1280,900".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".to_owned(),
            json!({"binary": chromium, "args": args}),
        );
        capabilities.insert("goog:loggingPrefs".to_owned(), json!({"browser": "ALL"}));
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + WAIT;
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => break client,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("no WebDriver session from chromedriver: {e}"),
            }
        };
        let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/console-screenshots");
        std::fs::create_dir_all(&shots).expect("screenshot directory");
        Self {
            client,
            driver,
            _profile: profile,
            shots,
        }
    }

    /// Saves a screenshot of the page as `<name>.png`.
    pub async fn shot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(self.shots.join(format!("{name}.png")), png).expect("saved");
    }

    /// Waits for an element matching `css`.
    pub async fn wait(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css} on the page within {WAIT:?}: {e}"))
    }

    /// Waits for the element matching `css` and clicks it.
    pub async fn click(&self, css: &str) {
        self.act_on(css, "click", async |e| e.click().await).await;
    }

    /// Waits for the field matching `css` and types `text` into it.
    pub async fn type_into(&self, css: &str, text: &str) {
        self.act_on(css, "type into", async |e| e.send_keys(text).await)
            .await;
    }

    /// Waits for the element matching `css` and does `act` to it. The page may draw the
    /// element again between finding and acting (a live table after an event): a stale
    /// reference is found again, until `WAIT`; any other error fails the test.
    async fn act_on(
        &self,
        css: &str,
        what: &str,
        act: impl AsyncFn(&fantoccini::elements::Element) -> Result<(), CmdError>,
    ) {
        let deadline = Instant::now() + WAIT;
        loop {
            match act(&self.wait(css).await).await {
                Ok(()) => return,
                Err(e) if e.is_stale_element_reference() && Instant::now() < deadline => {}
                Err(e) => panic!("cannot {what} {css}: {e}"),
            }
        }
    }

    /// Waits until the element matching `css` has text containing `text`; returns the text.
    pub async fn wait_text(&self, css: &str, text: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(element) = self.client.find(Locator::Css(css)).await
                && let Ok(found) = element.text().await
                && found.contains(text)
            {
                return found;
            }
            if Instant::now() >= deadline {
                let seen = match self.client.find(Locator::Css(css)).await {
                    Ok(element) => format!("{:?}", element.text().await.unwrap_or_default()),
                    Err(_) => "no such element".to_owned(),
                };
                self.shot("failed-wait").await;
                panic!("{css} never said {text:?} within {WAIT:?}; last: {seen}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Runs `script` in the page (a function body; `arguments` are `args`).
    pub async fn run(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .expect("script runs")
    }

    /// Runs `script` whose last argument is the callback that ends it.
    pub async fn run_async(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute_async(script, args)
            .await
            .expect("script runs")
    }

    /// The console messages of level SEVERE (errors) since the last call.
    pub async fn errors(&self) -> Vec<String> {
        let log = self
            .client
            .issue_cmd(BrowserLog)
            .await
            .expect("browser log");
        log.as_array()
            .into_iter()
            .flatten()
            .filter(|entry| entry["level"] == "SEVERE")
            .map(|entry| entry["message"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}
