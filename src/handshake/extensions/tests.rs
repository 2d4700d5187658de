//! Tests of the extension parser and the permessage-deflate negotiation.

use super::*;
use alloc::vec;
use alloc::vec::Vec;

/// (name, [(param, unescaped value)]) for every extension, or the error.
type Parsed<'a> = Result<Vec<(&'a str, Vec<(&'a str, Option<String>)>)>, ExtensionError>;

fn parse_all(value: &str) -> Parsed<'_> {
    parse(value.as_bytes())
        .map(|e| {
            let e = e?;
            let params = e.params().map(|p| {
                (
                    p.name,
                    p.value
                        .map(|v| v.bytes().map(char::from).collect::<String>()),
                )
            });
            Ok((e.name(), params.collect()))
        })
        .collect()
}

fn s(v: &str) -> Option<String> {
    Some(v.into())
}

#[test]
fn parser_accepts() {
    let cases: &[(&str, Parsed<'_>)] = &[
        ("", Ok(vec![])),
        (" , ,", Ok(vec![])),
        (
            "permessage-deflate",
            Ok(vec![("permessage-deflate", vec![])]),
        ),
        (
            "permessage-deflate; client_max_window_bits, x-webkit-deflate-frame",
            Ok(vec![
                ("permessage-deflate", vec![("client_max_window_bits", None)]),
                ("x-webkit-deflate-frame", vec![]),
            ]),
        ),
        (
            "\tfoo ;a = 1 ;b=\"x\",, bar ; c ",
            Ok(vec![
                ("foo", vec![("a", s("1")), ("b", s("x"))]),
                ("bar", vec![("c", None)]),
            ]),
        ),
        // Quoted-pairs unescape to their character.
        (r#"foo; a="\1\0""#, Ok(vec![("foo", vec![("a", s("10"))])])),
    ];
    for (value, want) in cases {
        assert_eq!(&parse_all(value), want, "{value:?}");
    }
}

#[test]
fn parser_refuses() {
    for value in [
        ";a",
        "foo;",
        "foo; =1",
        "foo; a=",
        "foo; a=\"",
        "foo; a=\"\"",
        "foo; a=\"1",
        "foo bar",
        "foo; a=1 2",
        "foo; a b",
        // After unescaping a quoted value must be a token: no space, no
        // comma (so a quoted comma cannot split the list either), no quote.
        "foo; a=\"b c\"",
        "foo; a=\"b,c\", permessage-deflate",
        r#"foo; a="\"""#,
        "foo; a=1;",
        "f\u{e9}e",
        "foo; a=\u{e9}",
        "foo\r\n",
    ] {
        let got = parse_all(value);
        assert_eq!(got, Err(ExtensionError::Syntax), "{value:?}");
    }
    // Extensions before the error are still yielded, then the error, then
    // nothing.
    let mut it = parse(b"a, b c, d");
    assert_eq!(it.next().map(|e| e.map(|e| e.name())), Some(Ok("a")));
    assert_eq!(
        it.next().map(|e| e.map(|e| e.name())),
        Some(Err(ExtensionError::Syntax))
    );
    assert!(it.next().is_none());
}

#[test]
fn parser_never_panics() {
    let alphabet = b"a=;,\" \\\t9\x80";
    let mut x: u32 = 1;
    for _ in 0..20_000 {
        let len = (x % 12) as usize;
        let input: Vec<u8> = (0..len)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                alphabet[(x >> 16) as usize % alphabet.len()]
            })
            .collect();
        for e in parse(&input).flatten() {
            e.params().for_each(|p| {
                let _ = p.value.map(|v| v.bytes().count());
            });
        }
        let _ = negotiate([&input[..]], &DeflateConfig::default());
        let _ = validate_response([&input[..]], Some(&DeflateConfig::default()));
    }
}

fn answer(offer: &str, config: &DeflateConfig) -> Option<String> {
    negotiate([offer.as_bytes()], config).map(|p| p.to_string())
}

#[test]
fn server_answers() {
    let on = DeflateConfig::default();
    let cases: &[(&str, Option<&str>)] = &[
        // Chromium, node ws, python websockets.
        (
            "permessage-deflate; client_max_window_bits",
            Some("permessage-deflate"),
        ),
        // Autobahn 12.x and 13.1.
        (
            "permessage-deflate; client_no_context_takeover; client_max_window_bits",
            Some("permessage-deflate; client_no_context_takeover"),
        ),
        // Autobahn 13.2-13.6 (with and without its default accept params).
        (
            "permessage-deflate; server_no_context_takeover",
            Some("permessage-deflate; server_no_context_takeover"),
        ),
        (
            "permessage-deflate; server_max_window_bits=9",
            Some("permessage-deflate; server_max_window_bits=9"),
        ),
        (
            "permessage-deflate; server_max_window_bits=15",
            Some("permessage-deflate; server_max_window_bits=15"),
        ),
        (
            "permessage-deflate; client_no_context_takeover; client_max_window_bits; \
             server_no_context_takeover; server_max_window_bits=9",
            Some(
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
                 server_max_window_bits=9",
            ),
        ),
        // Autobahn 13.7: three offers, the first one wins.
        (
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=9, \
             permessage-deflate; server_no_context_takeover, permessage-deflate",
            Some("permessage-deflate; server_no_context_takeover; server_max_window_bits=9"),
        ),
        // wsproto.
        (
            "permessage-deflate; client_max_window_bits=15; server_max_window_bits=15",
            Some("permessage-deflate; server_max_window_bits=15; client_max_window_bits=15"),
        ),
        // 8 is answered 8 (and compressed at 9), never raised to 9.
        (
            "permessage-deflate; server_max_window_bits=8; client_max_window_bits=8",
            Some("permessage-deflate; server_max_window_bits=8; client_max_window_bits=8"),
        ),
        (
            "permessage-deflate; server_max_window_bits=\"10\"",
            Some("permessage-deflate; server_max_window_bits=10"),
        ),
        // Other extensions are ignored.
        (
            "x-webkit-deflate-frame, permessage-deflate",
            Some("permessage-deflate"),
        ),
        ("x-foo; bar=1", None),
        ("", None),
        // A bad offer is declined and the next one tried.
        (
            "permessage-deflate; server_max_window_bits=08, \
             permessage-deflate; server_max_window_bits=10",
            Some("permessage-deflate; server_max_window_bits=10"),
        ),
        // Malformed syntax anywhere declines everything.
        ("permessage-deflate, permessage-deflate; a=\"b c\"", None),
    ];
    for (offer, want) in cases {
        assert_eq!(answer(offer, &on).as_deref(), *want, "{offer:?}");
    }
    let off = DeflateConfig {
        enabled: false,
        ..DeflateConfig::default()
    };
    assert_eq!(answer("permessage-deflate", &off), None, "disabled");
}

#[test]
fn server_declines_bad_offers() {
    let on = DeflateConfig::default();
    for params in [
        "server_max_window_bits=08",
        "server_max_window_bits=16",
        "server_max_window_bits=7",
        "server_max_window_bits=1a",
        "server_max_window_bits=",
        "server_max_window_bits",
        "server_max_window_bits=\"\\1\\6\"",
        "client_max_window_bits=0",
        "client_max_window_bits=-9",
        "client_max_window_bits=9.0",
        "server_no_context_takeover=1",
        "client_no_context_takeover=\"x\"",
        "server_no_context_takeover; server_no_context_takeover",
        "client_max_window_bits; client_max_window_bits=10",
        "server_max_window_bits=10; server_max_window_bits=10",
        "mux",
        "Server_No_Context_Takeover",
    ] {
        let offer = alloc::format!("permessage-deflate; {params}");
        assert_eq!(answer(&offer, &on), None, "{offer:?}");
    }
}

#[test]
fn server_applies_its_config() {
    let cfg = DeflateConfig::default()
        .with_server_max_window_bits(12)
        .with_client_max_window_bits(10)
        .with_server_no_context_takeover(true)
        .with_client_no_context_takeover(true);
    let cases = [
        // No client_max_window_bits offered: none may be answered.
        (
            "permessage-deflate",
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=12",
        ),
        (
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=12; client_max_window_bits=10",
        ),
        (
            "permessage-deflate; client_max_window_bits=9; server_max_window_bits=14",
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=12; client_max_window_bits=9",
        ),
    ];
    for (offer, want) in cases {
        assert_eq!(answer(offer, &cfg).as_deref(), Some(want), "{offer:?}");
    }
    // Several header lines.
    let lines: [&[u8]; 2] = [b"x-foo", b"permessage-deflate; server_max_window_bits=9"];
    let p = negotiate(lines, &DeflateConfig::default()).unwrap();
    assert_eq!(p.server_max_window_bits, Some(9));
}

#[test]
fn codec_per_role() {
    let p = negotiate(
        [
            &b"permessage-deflate; server_max_window_bits=8; client_no_context_takeover; \
            client_max_window_bits=11"[..],
        ],
        &DeflateConfig::default(),
    )
    .unwrap();
    let server = Codec {
        compress_window_bits: 8,
        compress_no_context_takeover: false,
        decompress_window_bits: 11,
        decompress_no_context_takeover: true,
    };
    assert_eq!(p.codec(true), server);
    let client = Codec {
        compress_window_bits: 11,
        compress_no_context_takeover: true,
        decompress_window_bits: 8,
        decompress_no_context_takeover: false,
    };
    assert_eq!(p.codec(false), client);
}

#[test]
fn client_offers() {
    assert_eq!(
        offer(&DeflateConfig::default()),
        "permessage-deflate; client_max_window_bits"
    );
    let cfg = DeflateConfig::default()
        .with_server_max_window_bits(10)
        .with_client_max_window_bits(12)
        .with_server_no_context_takeover(true)
        .with_client_no_context_takeover(true);
    assert_eq!(
        offer(&cfg),
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
         server_max_window_bits=10; client_max_window_bits=12"
    );
}

fn check(response: &str, config: &DeflateConfig) -> Result<Option<DeflateParams>, ExtensionError> {
    validate_response([response.as_bytes()], Some(config))
}

#[test]
fn client_validates_responses() {
    let on = DeflateConfig::default();
    let none = DeflateParams {
        server_max_window_bits: None,
        client_max_window_bits: None,
        server_no_context_takeover: false,
        client_no_context_takeover: false,
    };
    let bad = Err(ExtensionError::InvalidParameter);
    let cases: &[(&str, Result<Option<DeflateParams>, ExtensionError>)] = &[
        ("", Ok(None)),
        ("permessage-deflate", Ok(Some(none))),
        (
            "permessage-deflate; client_max_window_bits=9; server_max_window_bits=8",
            Ok(Some(DeflateParams {
                client_max_window_bits: Some(9),
                server_max_window_bits: Some(8),
                ..none
            })),
        ),
        (
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
            Ok(Some(DeflateParams {
                server_no_context_takeover: true,
                client_no_context_takeover: true,
                ..none
            })),
        ),
        // A bare client_max_window_bits is for offers only.
        ("permessage-deflate; client_max_window_bits", bad),
        ("permessage-deflate; server_max_window_bits", bad),
        ("permessage-deflate; server_max_window_bits=16", bad),
        ("permessage-deflate; client_max_window_bits=08", bad),
        ("permessage-deflate; server_no_context_takeover=1", bad),
        (
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            bad,
        ),
        ("permessage-deflate; x=1", bad),
        (
            "permessage-deflate, permessage-deflate",
            Err(ExtensionError::Repeated),
        ),
        ("x-webkit-deflate-frame", Err(ExtensionError::NotOffered)),
        ("permessage-deflate, x-foo", Err(ExtensionError::NotOffered)),
        ("permessage-deflate; a=\"", Err(ExtensionError::Syntax)),
    ];
    for (response, want) in cases {
        assert_eq!(&check(response, &on), want, "{response:?}");
    }
    // Nothing offered, nothing may be answered.
    assert_eq!(
        validate_response([&b"permessage-deflate"[..]], None),
        Err(ExtensionError::NotOffered)
    );
    assert_eq!(validate_response([&b""[..]], None), Ok(None));
    // Window bits above what we asked for.
    let small = DeflateConfig::default()
        .with_server_max_window_bits(10)
        .with_client_max_window_bits(10);
    assert_eq!(
        check("permessage-deflate; server_max_window_bits=11", &small),
        bad
    );
    assert_eq!(
        check("permessage-deflate; client_max_window_bits=11", &small),
        bad
    );
    assert!(
        check(
            "permessage-deflate; server_max_window_bits=10; client_max_window_bits=9",
            &small
        )
        .is_ok()
    );
    // Our own client_no_context_takeover offer binds us even if not echoed.
    let nct = DeflateConfig::default().with_client_no_context_takeover(true);
    let p = check("permessage-deflate", &nct).unwrap().unwrap();
    assert!(p.client_no_context_takeover && p.codec(false).compress_no_context_takeover);
}

#[test]
fn offer_answer_round_trip() {
    let configs = [
        DeflateConfig::default(),
        DeflateConfig::default().with_server_max_window_bits(9),
        DeflateConfig::default()
            .with_client_max_window_bits(8)
            .with_server_no_context_takeover(true),
        DeflateConfig::default()
            .with_client_no_context_takeover(true)
            .with_server_max_window_bits(8),
    ];
    for client in &configs {
        for server in &configs {
            let offer = offer(client);
            let params = negotiate([offer.as_bytes()], server).expect("accepted");
            let answer = params.to_string();
            let seen = validate_response([answer.as_bytes()], Some(client)).expect("valid answer");
            let seen = seen.expect("in use");
            assert_eq!(
                params.codec(true).compress_window_bits,
                seen.codec(false).decompress_window_bits
            );
            assert_eq!(
                params.codec(true).decompress_window_bits,
                seen.codec(false).compress_window_bits
            );
            assert_eq!(
                params.server_no_context_takeover,
                seen.server_no_context_takeover
            );
            // The client honours any limit it asked the server for.
            assert!(seen.codec(false).compress_window_bits <= client.client_max_window_bits);
            assert!(seen.codec(true).compress_window_bits <= client.server_max_window_bits);
        }
    }
}

#[test]
fn errors_display_what_was_refused() {
    let shown = [
        (ExtensionError::Syntax, "malformed Sec-WebSocket-Extensions"),
        (
            ExtensionError::NotOffered,
            "response names an extension that was not offered",
        ),
        (
            ExtensionError::Repeated,
            "response accepts permessage-deflate twice",
        ),
        (
            ExtensionError::InvalidParameter,
            "invalid permessage-deflate parameter",
        ),
    ];
    for (error, text) in shown {
        assert_eq!(error.to_string(), text);
    }
}

#[test]
fn param_value_is_compares_the_unescaped_value() {
    let ext = parse(br#"x; a="1\5", b=15"#).next().unwrap().unwrap();
    let values: Vec<ParamValue<'_>> = ext.params().map(|p| p.value.unwrap()).collect();
    for v in values {
        assert!(v.is("15"));
        assert!(!v.is("1\\5"));
        assert!(!v.is("1"));
        assert!(!v.is("155"));
    }
}

#[test]
fn builders_set_their_field_and_keep_the_others() {
    let built = DeflateConfig::default()
        .with_level(12)
        .with_server_max_window_bits(3)
        .with_client_max_window_bits(11)
        .with_server_no_context_takeover(true)
        .with_client_no_context_takeover(true)
        .with_min_compress_size(1024)
        .with_compress_outgoing(false)
        .with_release(crate::config::Release::AfterMessage);
    let expected = DeflateConfig {
        enabled: true,
        level: 9,
        server_max_window_bits: 8,
        client_max_window_bits: 11,
        server_no_context_takeover: true,
        client_no_context_takeover: true,
        min_compress_size: 1024,
        compress_outgoing: false,
        release: crate::config::Release::AfterMessage,
    };
    assert_eq!(built, expected);
    assert_eq!(
        DeflateConfig::default().with_level(4),
        DeflateConfig {
            level: 4,
            ..DeflateConfig::default()
        }
    );
}
