//! Placeholder, filled by the opening handshake.
/// A request.
#[derive(Debug, PartialEq, Eq)]
pub struct Request<'a> {
    _p: &'a (),
}
/// Accepted.
#[derive(Debug, PartialEq, Eq)]
pub struct Accepted<'a> {
    _p: &'a (),
}
