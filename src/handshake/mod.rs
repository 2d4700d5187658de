//! The opening handshake (RFC 6455 §4): the WebSocket rules on top of the
//! HTTP/1.1 head: request and response validation, the accept key,
//! subprotocol negotiation, and the responses a server writes; and the
//! extended CONNECT that opens a WebSocket over HTTP/2 ([`h2`], RFC 8441)
//! and HTTP/3 ([`h3`], RFC 9220), one implementation for both.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

mod client;
mod connect;
pub mod extensions;
mod fields;
pub mod h2;
pub mod h3;
pub(crate) mod http;
mod server;
mod subprotocol;
mod upgrade;
mod uri;
mod url;

pub use client::{Accepted, ClientRequest};
pub(crate) use client::{validate_response, write_request};
pub use fields::Fields;
pub use server::{Accept, Request, Response, Upgrade};
pub(crate) use server::{
    check_accept, check_reject, validate_request, write_accept, write_error_response, write_reject,
};
pub use upgrade::{UpgradeBuf, validate_upgrade};
pub use url::{UrlError, WsUrl};

/// The GUID every server appends to the client's key (RFC 6455 §1.3).
const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Computes `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`: the base64 of
/// the SHA-1 of the key followed by the RFC's GUID.
///
/// ```
/// // RFC 6455 §1.3.
/// let accept = wstate::handshake::accept_key(b"dGhlIHNhbXBsZSBub25jZQ==");
/// assert_eq!(&accept, b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// ```
pub fn accept_key(key: &[u8]) -> [u8; 28] {
    let mut sha = sha1_smol::Sha1::new();
    sha.update(key);
    sha.update(GUID);
    let mut out = [0; 28];
    // 20 bytes of digest are always 28 base64 characters.
    let _ = BASE64.encode_slice(sha.digest().bytes(), &mut out);
    out
}

/// The `Sec-WebSocket-Key` for a 16-byte nonce: its base64 (24 characters).
pub(crate) fn key_for_nonce(nonce: &[u8; 16]) -> [u8; 24] {
    let mut out = [0; 24];
    let _ = BASE64.encode_slice(nonce, &mut out);
    out
}
