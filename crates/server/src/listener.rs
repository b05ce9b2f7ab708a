//! The accept loop: how many connections, how long each may dawdle, how shutdown ends.
//!
//! `axum::serve` has no timeouts and no connection limit, so one slow or idle client
//! could hold a socket (and a file descriptor) forever, and SIGTERM waited for it. Here:
//!
//! * at most `max_connections` are served at once (a semaphore permit per
//!   connection, taken *before* `accept`, so further clients wait in the kernel's
//!   backlog instead of costing a descriptor); reaching the limit is logged once per
//!   burst;
//! * each connection has a watchdog ([`Clock`]): a connection with no request in
//!   flight is closed `idle` after its last response (or after it opened), and one
//!   that started sending a request head is closed if the head is not complete within
//!   `header_read`. hyper's own header timer is not used because it starts when the
//!   connection starts waiting, which would make the idle wait and the head read one
//!   timeout;
//! * request bodies time out when no frame arrives within `body_read`
//!   ([`ReadTimeout`]);
//! * shutdown stops accepting, lets every connection finish its request in flight
//!   (hyper's graceful shutdown closes idle ones at once), and after `shutdown` drops
//!   whatever is still open, so a client holding a partial request cannot keep the
//!   process alive.

use std::convert::Infallible;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;
use tower::ServiceExt as _;

/// The connection limits and timeouts of `sagestack serve`.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub header_read: Duration,
    pub body_read: Duration,
    pub idle: Duration,
    pub shutdown: Duration,
}

/// What the accept loop tells its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Serving,
    /// Finish the request in flight, then close.
    Draining,
    /// Close now.
    Closing,
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains (bounded).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let max = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let permits = Arc::new(Semaphore::new(max));
    let (phase_tx, phase_rx) = watch::channel(Phase::Serving);
    let mut shutdown = pin!(shutdown);
    let mut warned = false;
    loop {
        let permit = match permits.clone().try_acquire_owned() {
            Ok(permit) => {
                // Hysteresis: a burst that hovers at the limit logs once, not per
                // connection.
                if permits.available_permits() >= max / 8 {
                    warned = false;
                }
                permit
            }
            Err(_) => {
                if !warned {
                    tracing::warn!(
                        limit = max,
                        "connection limit {max} reached; new connections wait (--max-connections)"
                    );
                    warned = true;
                }
                tokio::select! {
                    permit = permits.clone().acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => break,
                    },
                    () = &mut shutdown => break,
                }
            }
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors or a connection reset before accept: not fatal.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection(
            stream,
            app.clone(),
            limits,
            phase_rx.clone(),
            permit,
        ));
    }
    drop(listener);
    let open = max - permits.available_permits();
    tracing::info!(
        connections = open,
        "no longer accepting; finishing requests in flight"
    );
    let _ = phase_tx.send(Phase::Draining);
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    if tokio::time::timeout(limits.shutdown, permits.acquire_many(all))
        .await
        .is_err()
    {
        let open = max - permits.available_permits();
        tracing::warn!(
            connections = open,
            "connections still open {}s after the shutdown signal; closing them",
            limits.shutdown.as_secs_f64()
        );
        let _ = phase_tx.send(Phase::Closing);
        // Dropping a connection is immediate; this only waits for the tasks to run.
        let _ = tokio::time::timeout(Duration::from_secs(1), permits.acquire_many(all)).await;
    }
}

/// One connection, from accept to close; `_permit` returns to the limit when it ends.
async fn connection(
    stream: TcpStream,
    app: Router,
    limits: Limits,
    mut phase: watch::Receiver<Phase>,
    _permit: OwnedSemaphorePermit,
) {
    let clock = Arc::new(Clock::new());
    let io = TokioIo::new(Watched {
        inner: stream,
        clock: clock.clone(),
    });
    let service_clock = clock.clone();
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let in_flight = InFlight::begin(service_clock.clone());
        let request = request.map(|body| Body::new(ReadTimeout::new(body, limits.body_read)));
        let app = app.clone();
        async move {
            let response = app.oneshot(request).await.unwrap_or_else(|e| match e {});
            Ok::<_, Infallible>(response.map(|body| {
                Body::new(Finishing {
                    inner: body,
                    _in_flight: in_flight,
                })
            }))
        }
    });
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    let mut conn = pin!(builder.serve_connection(io, service));
    if *phase.borrow() != Phase::Serving {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!("connection ended with an error: {e}");
                }
                return;
            }
            why = clock.expired(limits) => {
                tracing::debug!("closing a connection: {why}");
                return;
            }
            changed = phase.changed() => match changed.map(|()| *phase.borrow()) {
                Ok(Phase::Serving) => {}
                Ok(Phase::Draining) => conn.as_mut().graceful_shutdown(),
                Ok(Phase::Closing) | Err(_) => return,
            },
        }
    }
}

/// Where a connection is in its request cycle, for its watchdog.
struct Clock {
    state: Mutex<ClockState>,
}

struct ClockState {
    /// Requests being handled or whose response is being written.
    in_flight: u32,
    /// When the connection last became idle (opened, or finished a response).
    idle_since: Instant,
    /// When the first bytes of the next request head arrived, if they have.
    head_since: Option<Instant>,
}

impl Clock {
    fn new() -> Self {
        Self {
            state: Mutex::new(ClockState {
                in_flight: 0,
                idle_since: Instant::now(),
                head_since: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ClockState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn bytes_read(&self) {
        let mut s = self.lock();
        if s.in_flight == 0 && s.head_since.is_none() {
            s.head_since = Some(Instant::now());
        }
    }

    /// Resolves when the connection has been idle, or reading a head, for too long.
    async fn expired(&self, limits: Limits) -> &'static str {
        // While a request is in flight the body timeout and the handler govern; look
        // again after the shorter of the two waits.
        let recheck = limits.idle.min(limits.header_read);
        loop {
            let deadline = {
                let s = self.lock();
                if s.in_flight > 0 {
                    None
                } else if let Some(since) = s.head_since {
                    Some((
                        since + limits.header_read,
                        "request head not received in time",
                    ))
                } else {
                    Some((s.idle_since + limits.idle, "idle"))
                }
            };
            match deadline {
                Some((at, why)) if at <= Instant::now() => return why,
                Some((at, _)) => tokio::time::sleep_until(at).await,
                None => tokio::time::sleep(recheck).await,
            }
        }
    }
}

/// A request in flight on its connection; dropped with the response body, i.e. once
/// the response is written (or abandoned).
struct InFlight(Arc<Clock>);

impl InFlight {
    fn begin(clock: Arc<Clock>) -> Self {
        {
            let mut s = clock.lock();
            s.in_flight += 1;
            s.head_since = None;
        }
        Self(clock)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut s = self.0.lock();
        s.in_flight = s.in_flight.saturating_sub(1);
        if s.in_flight == 0 {
            s.idle_since = Instant::now();
            s.head_since = None;
        }
    }
}

/// The response body, holding its request's [`InFlight`] until it is dropped.
struct Finishing {
    inner: Body,
    _in_flight: InFlight,
}

impl http_body::Body for Finishing {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The socket, telling its [`Clock`] when request bytes arrive.
struct Watched {
    inner: TcpStream,
    clock: Arc<Clock>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.clock.bytes_read();
        }
        result
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// A request body that fails when no frame arrives within `timeout` of asking for
/// one. (tower-http's `TimeoutBody` does the same but hides the body's size hint,
/// which s3s needs to tell an empty body from a missing `Content-Length`.)
struct ReadTimeout {
    inner: Incoming,
    timeout: Duration,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl ReadTimeout {
    fn new(inner: Incoming, timeout: Duration) -> Self {
        Self {
            inner,
            timeout,
            sleep: None,
        }
    }
}

/// The error a stalled request body ends with.
#[derive(Debug)]
pub struct BodyReadTimeout(Duration);

impl std::fmt::Display for BodyReadTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "no request body bytes for {}s", self.0.as_secs_f64())
    }
}

impl std::error::Error for BodyReadTimeout {}

impl http_body::Body for ReadTimeout {
    type Data = bytes::Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            // Each frame restarts the wait for the next one.
            this.sleep = None;
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        let timeout = this.timeout;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyReadTimeout(timeout))))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
