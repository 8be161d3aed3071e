//! The PostgreSQL store beside SQLite, in one run: two servers (`serve --apps off`), one on a
//! data dir's SQLite file, one with `--store URL`; against each, through the official SDK over
//! loopback, N durable writes (CreateApplication) one at a time and from 4 tasks at once, then
//! N reads of each kind (GetApplication, a 25-item ListApplications page). Prints operations a
//! second and PostgreSQL's as a ratio of SQLite's.
//!
//! Usage: store_bench <server-binary> <postgres-url of an empty database> [N] (N at most 100:
//! the account's quota of 200 applications holds both write cases)
#![allow(clippy::unwrap_used)] // a benchmark fails loudly

mod support;

use aws_sdk_gameliftstreams::types::{RuntimeEnvironment, RuntimeEnvironmentType};
use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::Instant;
use support::client;

struct Server {
    child: std::process::Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(bin: &str, dir: &std::path::Path, store: Option<&str>) -> Server {
    let mut cmd = Command::new(bin);
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--apps", "off", "--data-dir"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(url) = store {
        cmd.args(["--store", url]);
    }
    let mut child = cmd.spawn().unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().strip_prefix("listening on ").unwrap().to_string();
    Server { child, url }
}

/// Operations a second of `n` runs of `op`, from `tasks` tasks at once.
async fn rate<F, Fut>(n: usize, tasks: usize, op: F) -> f64
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let started = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let op = op.clone();
            tokio::spawn(async move {
                for i in (t..n).step_by(tasks) {
                    op(i).await;
                }
            })
        })
        .collect();
    for h in handles {
        h.await.unwrap();
    }
    n as f64 / started.elapsed().as_secs_f64()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: store_bench <server-binary> <postgres-url> [N]";
    let bin = args.get(1).expect(usage);
    let pg = args.get(2).expect(usage);
    let n: usize = args.get(3).map_or(100, |s| s.parse().unwrap()).min(100);
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let servers = [start(bin, dirs[0].path(), None), start(bin, dirs[1].path(), Some(pg))];
    println!("{n} operations each, 2 cores, loopback; PostgreSQL / SQLite in the last column");
    let mut rows: Vec<(String, [f64; 2])> = Vec::new();
    let mut ids: Vec<Vec<String>> = vec![Vec::new(), Vec::new()];
    for (k, case) in [
        ("CreateApplication, one at a time", 1),
        ("CreateApplication, 4 at once", 4),
    ] {
        let mut got = [0.0; 2];
        for (s, server) in servers.iter().enumerate() {
            let c = client(&server.url);
            let made = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
            let m = made.clone();
            got[s] = rate(n, case, move |i| {
                let (c, m) = (c.clone(), m.clone());
                async move {
                    let app = c
                        .create_application()
                        .description(format!("bench {i}"))
                        .runtime_environment(
                            RuntimeEnvironment::builder()
                                .r#type(RuntimeEnvironmentType::Ubuntu)
                                .version("22_04_LTS")
                                .build()
                                .unwrap(),
                        )
                        .executable_path("run.sh")
                        .application_source_uri("s3://bench-bucket/game")
                        .send()
                        .await
                        .unwrap();
                    m.lock().unwrap().push(app.id().unwrap().to_string());
                }
            })
            .await;
            ids[s].extend(made.lock().unwrap().drain(..));
        }
        rows.push((k.to_string(), got));
    }
    for (k, list) in [("GetApplication", false), ("ListApplications, 25 a page", true)] {
        let mut got = [0.0; 2];
        for (s, server) in servers.iter().enumerate() {
            let c = client(&server.url);
            let ids = std::sync::Arc::new(ids[s].clone());
            got[s] = rate(n, 4, move |i| {
                let (c, ids) = (c.clone(), ids.clone());
                async move {
                    if list {
                        c.list_applications().max_results(25).send().await.unwrap();
                    } else {
                        c.get_application()
                            .identifier(&ids[i % ids.len()])
                            .send()
                            .await
                            .unwrap();
                    }
                }
            })
            .await;
        }
        rows.push((k.to_string(), got));
    }
    println!("{:<36} {:>12} {:>12} {:>8}", "", "SQLite op/s", "PG op/s", "PG/SQLite");
    for (k, [a, b]) in rows {
        println!("{k:<36} {a:>12.0} {b:>12.0} {:>8.2}", b / a);
    }
}
