//! Header field values (RFC 9110 §5): the fields of a checked head, lookups
//! by name, and comma-separated lists that honour quoted strings.

/// Header fields of a checked request or response, in order: the field
/// lines of an HTTP/1.1 head, or the regular fields (no pseudo-header
/// fields) an HTTP/2 or HTTP/3 stack decoded. Lookups are
/// case-insensitive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fields<'a>(Repr<'a>);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Repr<'a> {
    /// Field lines, CRLF-separated, checked by `parse_head`.
    Head(&'a [u8]),
    /// `(name, value)` pairs, checked by the extended CONNECT's rules.
    Decoded(&'a [(&'a [u8], &'a [u8])]),
}

impl<'a> Fields<'a> {
    /// The field lines of a head that `parse_head` checked.
    pub(crate) const fn head(lines: &'a [u8]) -> Self {
        Fields(Repr::Head(lines))
    }

    /// The regular fields of an extended CONNECT, checked.
    pub(crate) const fn decoded(pairs: &'a [(&'a [u8], &'a [u8])]) -> Self {
        Fields(Repr::Decoded(pairs))
    }

    /// No fields.
    pub(crate) const NONE: Fields<'static> = Fields(Repr::Head(&[]));

    /// The field lines of a head (empty for decoded fields).
    pub(crate) fn lines(&self) -> &'a [u8] {
        match self.0 {
            Repr::Head(lines) => lines,
            Repr::Decoded(_) => &[],
        }
    }

    /// Every field as `(name, value)`, value without surrounding whitespace.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &'a [u8])> + use<'a> {
        // Checked by `parse_head` and the extended CONNECT's field rules:
        // names are ASCII tokens.
        self.raw()
            .filter_map(|(name, value)| Some((core::str::from_utf8(name).ok()?, value)))
    }

    /// Every field as `(name, value)` bytes, without UTF-8 checks.
    pub(crate) fn raw(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + Clone + use<'a> {
        let (lines, decoded) = match self.0 {
            Repr::Head(lines) => (lines, &[][..]),
            Repr::Decoded(pairs) => (&[][..], pairs),
        };
        Lines(lines)
            .filter_map(|line| {
                let colon = line.iter().position(|b| *b == b':')?;
                Some((&line[..colon], trim(&line[colon + 1..])))
            })
            .chain(decoded.iter().copied())
    }

    /// The value of the first field named `name`.
    pub fn get(&self, name: &str) -> Option<&'a [u8]> {
        self.raw()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
    }

    /// Every value of fields named `name`, in order.
    pub fn get_all<'n>(&self, name: &'n str) -> impl Iterator<Item = &'a [u8]> + Clone + use<'a, 'n>
    where
        'a: 'n,
    {
        self.raw()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
    }

    /// The comma-separated elements of every field named `name`, trimmed,
    /// empty elements skipped (RFC 9110 §5.6.1). A comma inside a
    /// quoted-string (RFC 9110 §5.6.4) does not separate elements.
    pub fn list<'n>(&self, name: &'n str) -> impl Iterator<Item = &'a [u8]> + use<'a, 'n>
    where
        'a: 'n,
    {
        self.get_all(name).flat_map(split_list)
    }

    /// Whether the list field `name` contains `token` (case-insensitive).
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.get_all(name)
            .any(|value| list_has(value, token.as_bytes()))
    }
}

/// Whether the list `value` (one field's) contains `token`
/// (case-insensitive).
pub(crate) fn list_has(value: &[u8], token: &[u8]) -> bool {
    split_list(value).any(|e| e.eq_ignore_ascii_case(token))
}

/// Iterates CRLF-separated lines.
#[derive(Clone)]
pub(crate) struct Lines<'a>(pub(crate) &'a [u8]);

impl<'a> Iterator for Lines<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.0.is_empty() {
            return None;
        }
        // The first CR that an LF follows (a lone CR is part of the line).
        let mut from = 0;
        let end = loop {
            match self.0[from..].iter().position(|&b| b == b'\r') {
                Some(i) if self.0.get(from + i + 1) == Some(&b'\n') => break Some(from + i),
                Some(i) => from += i + 1,
                None => break None,
            }
        };
        let (line, rest) = match end {
            Some(i) => (&self.0[..i], &self.0[i + 2..]),
            None => (self.0, &self.0[self.0.len()..]),
        };
        self.0 = rest;
        Some(line)
    }
}

/// The non-empty, trimmed elements of one list value. Commas inside a
/// quoted-string (`"..."`, with `\` escaping the next byte) are part of
/// the element; an unterminated quoted-string runs to the end.
pub(crate) fn split_list(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = value;
    core::iter::from_fn(move || {
        loop {
            if rest.is_empty() {
                return None;
            }
            let end = list_element_end(rest);
            let element = trim(&rest[..end]);
            rest = rest.get(end + 1..).unwrap_or(&[]);
            if !element.is_empty() {
                return Some(element);
            }
        }
    })
}

/// The index of the first comma outside a quoted-string, or the length.
fn list_element_end(v: &[u8]) -> usize {
    let mut quoted = false;
    let mut escaped = false;
    for (i, &b) in v.iter().enumerate() {
        if escaped {
            escaped = false;
        } else if quoted && b == b'\\' {
            escaped = true;
        } else if b == b'"' {
            quoted = !quoted;
        } else if b == b',' && !quoted {
            return i;
        }
    }
    v.len()
}

/// A value without surrounding spaces and tabs.
pub(crate) fn trim(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

/// A token character (RFC 9110 §5.6.2 `tchar`).
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A non-empty token (RFC 9110 §5.6.2).
pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|b| is_tchar(*b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn lists_honour_quoted_strings() {
        let v = br#"a; p="x,y", , b; q="\"," ,c"#;
        let got: Vec<&[u8]> = split_list(v).collect();
        assert_eq!(got, [&br#"a; p="x,y""#[..], br#"b; q="\",""#, b"c"]);
        let got: Vec<&[u8]> = split_list(br#"a="unterminated, b"#).collect();
        assert_eq!(got, [&br#"a="unterminated, b"#[..]]);
        assert_eq!(split_list(b" , ,").count(), 0);
    }
}
