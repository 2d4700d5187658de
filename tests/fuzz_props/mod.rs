//! Properties of `wstate` checked on arbitrary input.
//!
//! One function per fuzz target, in the file of its name (shared pieces in
//! `common.rs` and, for the handshakes, `handshake.rs`). Each takes the raw
//! input bytes and panics when a property of the contract (DESIGN.md) fails.
//! The same functions run under cargo-fuzz (`fuzz/fuzz_targets/*.rs`) and,
//! on stable, over the checked-in corpus (`tests/fuzz_corpus.rs`).
//!
//! The including crate provides `crate::memory::peak(f) -> Option<usize>`:
//! the most bytes held at once on this thread while `f` runs, beyond what
//! was held before (the fuzz targets count with their own global
//! allocator, the stable replay with `allocation-counter`'s; `None` if the
//! including crate cannot count).
#![allow(dead_code, reason = "each fuzz target uses one of the checks")]

/// Pieces every target shares.
pub(crate) mod common;
/// Pieces the handshake targets share.
pub(crate) mod handshake;

pub(crate) mod chunking;
pub(crate) mod client_request;
pub(crate) mod extended_connect;
pub(crate) mod frame_header;
pub(crate) mod handshake_client;
pub(crate) mod handshake_server;
pub(crate) mod receive;
pub(crate) mod roundtrip;
pub(crate) mod timers;
pub(crate) mod utf8;

pub(crate) use chunking::chunking;
pub(crate) use client_request::client_request;
pub(crate) use extended_connect::extended_connect;
pub(crate) use frame_header::frame_header;
pub(crate) use handshake_client::handshake_client;
pub(crate) use handshake_server::handshake_server;
pub(crate) use receive::receive;
pub(crate) use roundtrip::roundtrip;
pub(crate) use timers::timers;
pub(crate) use utf8::utf8;

/// A property check over one raw fuzz input; panics on a violation.
pub(crate) type Check = fn(&[u8]);

/// The targets, by the name of their corpus directory.
pub(crate) const TARGETS: &[(&str, Check)] = &[
    ("frame_header", frame_header),
    ("receive", receive),
    ("chunking", chunking),
    ("utf8", utf8),
    ("roundtrip", roundtrip),
    ("handshake_server", handshake_server),
    ("handshake_client", handshake_client),
    ("client_request", client_request),
    ("extended_connect", extended_connect),
    ("timers", timers),
    #[cfg(feature = "deflate")]
    ("extensions", deflate::extensions),
    #[cfg(feature = "deflate")]
    ("deflate_receive", deflate::deflate_receive),
    #[cfg(feature = "deflate")]
    ("deflate_release", deflate_release::deflate_release),
];

/// The targets that need wstate's `deflate` feature: without it, `TARGETS`
/// leaves them out and the corpus replay skips their directories.
pub(crate) const DEFLATE_TARGETS: &[&str] = &["extensions", "deflate_receive", "deflate_release"];

/// permessage-deflate (RFC 7692): `extensions` and `deflate_receive`.
#[cfg(feature = "deflate")]
pub(crate) mod deflate;
/// The codec's release and rebuild: `deflate_release`.
#[cfg(feature = "deflate")]
pub(crate) mod deflate_release;
