//! Without feature `deflate`: a compressor and a decompressor that have
//! no values. A connection never negotiates permessage-deflate then
//! (`Config::deflate` is `None`), so nothing builds them; their methods
//! exist so that the compression paths compile unchanged, and the
//! `Option`s that would hold them are always `None`.

use alloc::vec::Vec;
use core::convert::Infallible;
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};

use super::{CompressError, InflateError, Progress};
use crate::config::Release;

/// Where a connection would keep a codec half: a type with no values, so
/// that the `Option` holding it is always `None` and takes no room.
#[derive(Debug)]
pub(crate) struct Held<T>(Infallible, PhantomData<T>);

impl<T> Deref for Held<T> {
    type Target = T;
    fn deref(&self) -> &T {
        match self.0 {}
    }
}

impl<T> DerefMut for Held<T> {
    fn deref_mut(&mut self) -> &mut T {
        match self.0 {}
    }
}

/// Nothing is held without a codec.
pub(crate) fn hold<T>(_: T) -> Option<Held<T>> {
    None
}

/// No compressor to build.
pub(crate) fn deflater(_: u8, _: u8, _: bool, _: Release) -> Option<Deflater> {
    None
}

/// No decompressor to build.
pub(crate) fn inflater(_: bool, _: u8, _: Release) -> Option<Inflater> {
    None
}

/// No compressor: there is none to build.
#[derive(Debug)]
pub(crate) enum Deflater {}

impl Deflater {
    pub(crate) fn release(&mut self) {
        match *self {}
    }
    pub(crate) fn compress(&mut self, _: &[u8], _: &mut Vec<u8>) -> Result<(), CompressError> {
        match *self {}
    }

    pub(crate) fn compress_part(
        &mut self,
        _: &[u8],
        _: bool,
        _: &mut Vec<u8>,
    ) -> Result<(), CompressError> {
        match *self {}
    }
}

/// No decompressor: there is none to build.
#[derive(Debug)]
pub(crate) enum Inflater {}

impl Inflater {
    pub(crate) fn release(&mut self) {
        match *self {}
    }
    pub(crate) fn inflate(
        &mut self,
        _: &[u8],
        _: bool,
        _: &mut Vec<u8>,
        _: usize,
    ) -> Result<(), InflateError> {
        match *self {}
    }

    pub(crate) fn inflate_part(
        &mut self,
        _: &[u8],
        _: bool,
        _: &mut Vec<u8>,
        _: usize,
    ) -> Result<Progress, InflateError> {
        match *self {}
    }
}
