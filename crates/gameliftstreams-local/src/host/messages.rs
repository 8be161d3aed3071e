//! A session's application message endpoint (ours: AWS does not publish its transport): a TCP
//! port on 127.0.0.1 that the game learns from `GAMELIFTSTREAMS_MESSAGE_ENDPOINT` and connects
//! to; each message either way is a 4-byte big-endian length and that many bytes (at most
//! 65,536). Messages from the page wait in a queue until the game connects, as in AWS; what
//! the game sends is handed on at once (and dropped when no page is connected: the caller's
//! rule). One connection at a time: a new one replaces the old. A game without the network
//! (`--app-network none`) reaches it through a second listener on the same port inside its
//! own network namespace.

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The longest message either way, as for the Web SDK's application messages.
pub const MAX_MESSAGE: usize = 65_536;

/// Messages from the page kept for a game that has not connected yet.
const QUEUE_LIMIT: usize = 1_000;

#[derive(Default)]
struct State {
    queue: VecDeque<Vec<u8>>,
    stream: Option<TcpStream>,
    received: u64,
    sent: u64,
}

/// A session's message endpoint.
pub struct Endpoint {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    from_game: Arc<dyn Fn(Vec<u8>) + Send + Sync>,
    name: String,
}

fn frame(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 4);
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(data);
    out
}

impl Endpoint {
    /// Listen on a free port of 127.0.0.1; `from_game` gets each message the game sends.
    pub fn start(name: &str, from_game: impl Fn(Vec<u8>) + Send + Sync + 'static) -> std::io::Result<Endpoint> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let state: Arc<Mutex<State>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (s, halt) = (state.clone(), stop.clone());
        let from_game: Arc<dyn Fn(Vec<u8>) + Send + Sync> = Arc::new(from_game);
        let f = from_game.clone();
        std::thread::Builder::new()
            .name(format!("gls-msg-{name}"))
            .spawn(move || accept(listener, s, halt, f))?;
        Ok(Endpoint {
            addr,
            state,
            stop,
            from_game,
            name: name.to_string(),
        })
    }

    /// The port, for a second listener elsewhere.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Accept the game's connections on `listener` too (one bound to the same port inside
    /// the game's own network).
    pub fn also_on(&self, listener: TcpListener) -> std::io::Result<()> {
        listener.set_nonblocking(true)?;
        let (s, halt, f) = (self.state.clone(), self.stop.clone(), self.from_game.clone());
        std::thread::Builder::new()
            .name(format!("gls-msg-{}", self.name))
            .spawn(move || accept(listener, s, halt, f))?;
        Ok(())
    }

    /// `host:port`, as the game's environment names it.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// A message from the page: to the game now if it is connected, else queued for it.
    pub fn to_game(&self, data: &[u8]) {
        if data.len() > MAX_MESSAGE {
            return;
        }
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let sent = state.stream.as_mut().is_some_and(|s| s.write_all(&frame(data)).is_ok());
        if sent {
            state.sent += 1;
            return;
        }
        state.stream = None;
        if state.queue.len() >= QUEUE_LIMIT {
            state.queue.pop_front();
        }
        state.queue.push_back(data.to_vec());
    }

    /// Messages (to the game, from the game) so far, and whether the game is connected.
    pub fn counts(&self) -> (u64, u64, bool) {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        (state.sent, state.received, state.stream.is_some())
    }

    /// Close the endpoint.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(s) = self.state.lock().unwrap_or_else(|p| p.into_inner()).stream.take() {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.stop();
    }
}

fn accept(
    listener: TcpListener,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    from_game: Arc<dyn Fn(Vec<u8>) + Send + Sync>,
) {
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_nodelay(true);
                let Ok(reader) = stream.try_clone() else { continue };
                {
                    let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
                    let mut stream = stream;
                    // What the page sent before the game connected, in order.
                    while let Some(m) = s.queue.pop_front() {
                        if stream.write_all(&frame(&m)).is_err() {
                            s.queue.push_front(m);
                            break;
                        }
                        s.sent += 1;
                    }
                    if let Some(old) = s.stream.replace(stream) {
                        let _ = old.shutdown(std::net::Shutdown::Both);
                    }
                }
                let (s, halt, f) = (state.clone(), stop.clone(), from_game.clone());
                let spawned = std::thread::Builder::new()
                    .name("gls-msg-read".into())
                    .spawn(move || read(reader, s, halt, f));
                if let Err(e) = spawned {
                    tracing::warn!(error = %e, "a message reader could not start");
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => {
                tracing::debug!(error = %e, "message endpoint accept failed");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

fn read(
    mut stream: TcpStream,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    from_game: Arc<dyn Fn(Vec<u8>) + Send + Sync>,
) {
    let mut head = [0u8; 4];
    while !stop.load(Ordering::SeqCst) {
        if stream.read_exact(&mut head).is_err() {
            return;
        }
        let n = u32::from_be_bytes(head) as usize;
        if n > MAX_MESSAGE {
            tracing::warn!(
                bytes = n,
                "the application sent a message over 65,536 bytes; its connection is closed"
            );
            let _ = stream.shutdown(std::net::Shutdown::Both);
            return;
        }
        let mut data = vec![0u8; n];
        if stream.read_exact(&mut data).is_err() {
            return;
        }
        state.lock().unwrap_or_else(|p| p.into_inner()).received += 1;
        from_game(data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    fn read_frame(s: &mut TcpStream) -> Vec<u8> {
        let mut head = [0u8; 4];
        s.read_exact(&mut head).unwrap();
        let mut data = vec![0u8; u32::from_be_bytes(head) as usize];
        s.read_exact(&mut data).unwrap();
        data
    }

    #[test]
    fn messages_queue_until_the_game_connects_and_go_both_ways() {
        let (tx, rx) = mpsc::channel();
        let tx = Mutex::new(tx);
        let ep = Endpoint::start("t", move |m| {
            let _ = tx.lock().unwrap().send(m);
        })
        .unwrap();
        ep.to_game(b"before");
        ep.to_game(&vec![0u8; MAX_MESSAGE + 1]); // too big: dropped
        let mut game = TcpStream::connect(ep.address()).unwrap();
        game.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        assert_eq!(read_frame(&mut game), b"before");
        std::thread::sleep(Duration::from_millis(100));
        ep.to_game(b"after");
        assert_eq!(read_frame(&mut game), b"after");
        game.write_all(&frame(b"from the game")).unwrap();
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), b"from the game");
        assert_eq!(ep.counts(), (2, 1, true));
        ep.stop();
    }
}
