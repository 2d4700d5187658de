//! Deadlines on tokio's clock (paused: time jumps when every task waits).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};
use tokio::time::Instant;
use wstate_tokio::{CloseCode, CloseFrame, Error};

const REQUEST: &[u8] =
    b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
const RESPONSE_LEN: usize = 129;

#[tokio::test(start_paused = true)]
async fn a_peer_that_vanishes_is_failed_with_1011_by_keepalive() {
    let (mut peer, s) = duplex(1 << 16);
    peer.write_all(REQUEST).await.unwrap();
    let start = Instant::now();
    let mut ws = wstate_tokio::accept(s).await.unwrap();
    // The peer says nothing more and answers nothing.
    let error = ws.recv().await.unwrap().unwrap_err();
    assert!(matches!(
        error,
        Error::Protocol(wstate::Error::KeepaliveTimeout)
    ));
    assert_eq!(error.close_code(), Some(CloseCode::INTERNAL_ERROR));
    // 20 s of quiet, a Ping, 20 s without an answer; then the linger (2 s)
    // for a peer that never closes.
    let took = start.elapsed();
    assert!(
        took >= Duration::from_secs(42) && took < Duration::from_secs(43),
        "{took:?}"
    );
    assert!(ws.recv().await.is_none());
    drop(ws);
    let mut got = Vec::new();
    peer.read_to_end(&mut got).await.unwrap();
    // The 101, the keepalive Ping, the Close 1011.
    assert_eq!(
        &got[RESPONSE_LEN..RESPONSE_LEN + 10],
        [0x89, 0x08, b'w', b's', b'k', b'a', 0, 0, 0, 1]
    );
    assert_eq!(
        &got[RESPONSE_LEN + 10..RESPONSE_LEN + 14],
        [0x88, 0x13, 0x03, 0xf3]
    );
    assert_eq!(&got[RESPONSE_LEN + 14..], b"keepalive timeout");
}

#[tokio::test(start_paused = true)]
async fn a_half_sent_request_is_answered_408_after_the_handshake_timeout() {
    let (mut peer, s) = duplex(1 << 16);
    peer.write_all(&REQUEST[..20]).await.unwrap();
    let start = Instant::now();
    let (result, got) = tokio::join!(wstate_tokio::accept(s), async {
        let mut got = Vec::new();
        peer.read_to_end(&mut got).await.unwrap();
        got
    });
    assert!(matches!(
        result,
        Err(Error::Protocol(wstate::Error::Handshake(
            wstate::HandshakeError::Timeout
        )))
    ));
    assert!(
        got.starts_with(b"HTTP/1.1 408 Request Timeout\r\n"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    let took = start.elapsed();
    assert!(
        took >= Duration::from_secs(10) && took < Duration::from_secs(13),
        "{took:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_unanswered_close_ends_after_the_close_timeout() {
    let (mut peer, s) = duplex(1 << 16);
    peer.write_all(REQUEST).await.unwrap();
    let mut ws = wstate_tokio::accept(s).await.unwrap();
    let start = Instant::now();
    // The peer never answers our Close.
    let closed = ws.close(CloseCode::NORMAL, "").await;
    let took = start.elapsed();
    assert!(
        took >= Duration::from_secs(10) && took < Duration::from_secs(13),
        "{took:?}"
    );
    // No Close came back: the connection ends as if the transport had.
    assert_eq!(
        closed.unwrap(),
        Some(wstate::CloseFrame::new(CloseCode::ABNORMAL))
    );
    let mut got = vec![0; RESPONSE_LEN + 4];
    peer.read_exact(&mut got).await.unwrap();
    assert_eq!(&got[RESPONSE_LEN..], [0x88, 0x02, 0x03, 0xe8]);
}

#[tokio::test(start_paused = true)]
async fn every_message_puts_the_keepalive_ping_off_by_a_whole_interval() {
    let (mut peer, s) = duplex(1 << 16);
    peer.write_all(REQUEST).await.unwrap();
    let mut ws = wstate_tokio::accept(s).await.unwrap();
    let start = Instant::now();
    let server = tokio::spawn(async move {
        let mut got = Vec::new();
        while let Some(Ok(message)) = ws.recv().await {
            got.push((message, start.elapsed()));
        }
        got
    });
    let mut response = [0; RESPONSE_LEN];
    peer.read_exact(&mut response).await.unwrap();
    // Two messages (masked with a zero key), at 15 s and at 30 s: each
    // moves the Ping 20 s past itself, later than the timer was set for.
    for (at, byte) in [(15, b'a'), (30, b'b')] {
        tokio::time::sleep_until(start + Duration::from_secs(at)).await;
        peer.write_all(&[0x82, 0x81, 0, 0, 0, 0, byte])
            .await
            .unwrap();
    }
    let mut ping = [0; 10];
    peer.read_exact(&mut ping).await.unwrap();
    let took = start.elapsed();
    assert_eq!(ping, [0x89, 0x08, b'w', b's', b'k', b'a', 0, 0, 0, 1]);
    assert!(
        took >= Duration::from_secs(50) && took < Duration::from_millis(50_005),
        "{took:?}"
    );
    drop(peer);
    let got = server.await.unwrap();
    let got: Vec<_> = got
        .into_iter()
        .map(|(message, at)| (message, at.as_secs()))
        .collect();
    assert_eq!(
        got,
        [
            (wstate_tokio::Message::Binary(b"a"[..].into()), 15),
            (wstate_tokio::Message::Binary(b"b"[..].into()), 30),
            // The peer's end, without a Close: 1006.
            (
                wstate_tokio::Message::Close(Some(CloseFrame::new(CloseCode::ABNORMAL))),
                50
            ),
        ]
    );
}

/// The silent peer of `server` (a task that waits for a message) gets the
/// keepalive's Ping after exactly 20 s of quiet, then goes away: the
/// task's wait ends with 1006.
async fn ping_after_20_s_then_leave(
    mut peer: tokio::io::DuplexStream,
    start: Instant,
    server: tokio::task::JoinHandle<Option<Result<wstate_tokio::Message, Error>>>,
) {
    let mut response = [0; RESPONSE_LEN];
    peer.read_exact(&mut response).await.unwrap();
    let mut ping = [0; 10];
    let read = tokio::time::timeout(Duration::from_secs(60), peer.read_exact(&mut ping)).await;
    assert!(read.is_ok(), "no Ping within 60 s");
    assert_eq!(ping, [0x89, 0x08, b'w', b's', b'k', b'a', 0, 0, 0, 1]);
    let took = start.elapsed();
    assert!(
        took >= Duration::from_secs(20) && took < Duration::from_millis(20_005),
        "{took:?}"
    );
    drop(peer);
    let end = server.await.unwrap().unwrap().unwrap();
    assert_eq!(
        end,
        wstate_tokio::Message::Close(Some(CloseFrame::new(CloseCode::ABNORMAL)))
    );
}

#[tokio::test(start_paused = true)]
async fn the_keepalive_runs_when_the_task_budget_refused_the_first_wait() {
    let (mut peer, s) = duplex(1 << 16);
    peer.write_all(REQUEST).await.unwrap();
    let mut ws = wstate_tokio::accept(s).await.unwrap();
    let start = Instant::now();
    let server = tokio::spawn(async move {
        let mut recv = std::pin::pin!(ws.recv());
        // The task spends its budget on something else, then polls the
        // connection once in the same turn: its read and its timer's first
        // wait are refused (and the task is woken to try again).
        std::future::poll_fn(|cx| {
            while let std::task::Poll::Ready(progress) = tokio::task::coop::poll_proceed(cx) {
                progress.made_progress();
            }
            assert!(recv.as_mut().poll(cx).is_pending());
            std::task::Poll::Ready(())
        })
        .await;
        recv.await
    });
    ping_after_20_s_then_leave(peer, start, server).await;
}

#[tokio::test(start_paused = true)]
async fn the_keepalive_wakes_the_task_that_waits_now_not_the_one_before() {
    let (mut peer, s) = duplex(1 << 16);
    peer.write_all(REQUEST).await.unwrap();
    let mut ws = wstate_tokio::accept(s).await.unwrap();
    let start = Instant::now();
    // A first task waits for a message once, then hands the connection on
    // (recv is cancel-safe) and ends; a second task waits on it.
    let ws = tokio::spawn(async move {
        std::future::poll_fn(|cx| {
            assert!(std::pin::pin!(ws.recv()).poll(cx).is_pending());
            std::task::Poll::Ready(())
        })
        .await;
        ws
    })
    .await
    .unwrap();
    let server = tokio::spawn(async move {
        let mut ws = ws;
        ws.recv().await
    });
    ping_after_20_s_then_leave(peer, start, server).await;
}
