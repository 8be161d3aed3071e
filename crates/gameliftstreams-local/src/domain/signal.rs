//! What a SignalRequest is: no client (`NO_CLIENT_CONNECTION`), a WebRTC offer (the Web SDK's
//! JSON, or a complete SDP text), or anything else; the SDP normalization the SDK's offers
//! need before a parser sees them; the SignalResponse JSON and the protocol script's URL, and
//! this server's addresses as a caller reached it. No I/O, no WebRTC stack.

use serde::{Deserialize, Serialize};

/// How a SignalRequest that is not a usable offer is treated (`serve --signal`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignalMode {
    /// A placeholder answer; the session runs without media.
    #[default]
    Lenient,
    /// The session ends ERROR/invalidSignalRequest, as in AWS.
    Strict,
}

/// A classified SignalRequest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// `NO_CLIENT_CONNECTION`: no browser now; one attaches later.
    NoClient,
    /// A WebRTC offer: its SDP, normalized (CRLF line endings, no media-level `b=` lines).
    Offer(String),
    /// Anything else (dummy strings, truncated text).
    Other,
}

/// The Web SDK's JSON offer (`{"type":"offer","sdp":...,"webSdkVersion":...,"extras":...}`).
#[derive(Deserialize)]
struct JsonOffer {
    #[serde(rename = "type")]
    kind: String,
    sdp: String,
}

/// The SignalResponse the Web SDK requires: exactly these typed members.
#[derive(Serialize)]
struct JsonAnswer<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    sdp: &'a str,
    #[serde(rename = "webSdkProtocolUrl")]
    web_sdk_protocol_url: &'a str,
}

/// Classify a SignalRequest.
pub fn classify(request: &str) -> Signal {
    if request == "NO_CLIENT_CONNECTION" {
        return Signal::NoClient;
    }
    if let Ok(offer) = serde_json::from_str::<JsonOffer>(request) {
        // The SDK's JSON: an offer even if its SDP turns out unusable (then the peer refuses
        // it and the request is invalid in every mode).
        return if offer.kind == "offer" {
            Signal::Offer(normalize(&offer.sdp))
        } else {
            Signal::Other
        };
    }
    if is_complete_sdp(request) {
        return Signal::Offer(normalize(request));
    }
    Signal::Other
}

/// A text that has an SDP session section (`v=0`, `o=`, `s=`, `t=`) and at least one media
/// section.
fn is_complete_sdp(text: &str) -> bool {
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    lines.first() == Some(&"v=0")
        && ["o=", "s=", "t="]
            .iter()
            .all(|p| lines.iter().any(|l| l.starts_with(p)))
        && lines.iter().any(|l| l.starts_with("m="))
}

/// CRLF line endings, and no `b=` lines in media sections: the Web SDK joins lines with `\n`
/// and appends `b=TIAS` and `b=AS` after the video section's attributes. SDP allows `b=`
/// lines only before a section's `a=` lines, and str0m's parser fails on two of them in one
/// section wherever they stand. The bandwidth the client asks for is advisory and the test
/// card streams at a fixed rate, so they are dropped.
pub fn normalize(sdp: &str) -> String {
    let mut in_media = false;
    let mut text = String::with_capacity(sdp.len() + sdp.len() / 32);
    for line in sdp.lines().map(str::trim_end).filter(|l| !l.is_empty()) {
        in_media |= line.starts_with("m=");
        if in_media && line.starts_with("b=") {
            continue;
        }
        text.push_str(line);
        text.push_str("\r\n");
    }
    text
}

/// The protocol script of a group's sessions, served under `/_local/webrtc/` at `host` (the
/// address the caller reached the server by).
pub fn web_sdk_url(host: &str, group_id: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(group_id.as_bytes());
    format!("http://{host}/_local/webrtc/{}.js", hex::encode(digest))
}

/// One of this server's addresses (`http://AUTHORITY/_local/…`: a protocol script, a stream
/// URL) as the caller reached the server, through `host`. What is stored names the endpoint
/// in use when it was written (or, for seeded data, none in particular): reads answer with
/// the one in use now. Anything else is returned as it is.
pub fn rehost(url: &str, host: &str) -> String {
    let path = url
        .strip_prefix("http://")
        .and_then(|rest| rest.find('/').map(|i| &rest[i..]));
    match path {
        Some(path) if path.starts_with("/_local/") && !host.is_empty() => format!("http://{host}{path}"),
        _ => url.to_string(),
    }
}

/// A stored SignalResponse with a protocol script (an answer to an offer).
#[derive(Deserialize)]
struct StoredAnswer {
    #[serde(rename = "type")]
    kind: String,
    sdp: String,
    #[serde(rename = "webSdkProtocolUrl")]
    web_sdk_protocol_url: String,
}

/// A SignalResponse whose `webSdkProtocolUrl` names the server as reached through `host`;
/// a placeholder answer (no script) is returned as it is.
pub fn rehost_answer(response: &str, host: &str) -> String {
    // Every GetStreamSession reads this: parse only an answer that names another host.
    let named = format!("\"webSdkProtocolUrl\":\"http://{host}/");
    if !response.contains("\"webSdkProtocolUrl\"") || response.contains(&named) {
        return response.to_string();
    }
    let Ok(stored) = serde_json::from_str::<StoredAnswer>(response) else {
        return response.to_string();
    };
    let url = rehost(&stored.web_sdk_protocol_url, host);
    if url == stored.web_sdk_protocol_url {
        return response.to_string();
    }
    serde_json::to_string(&JsonAnswer {
        kind: &stored.kind,
        sdp: &stored.sdp,
        web_sdk_protocol_url: &url,
    })
    .unwrap_or_else(|_| response.to_string())
}

/// The SignalResponse for an SDP answer.
pub fn answer_json(sdp: &str, protocol_url: &str) -> String {
    serde_json::to_string(&JsonAnswer {
        kind: "answer",
        sdp,
        web_sdk_protocol_url: protocol_url,
    })
    .unwrap_or_default()
}

/// The stand-in answer of a session that runs without media (`NO_CLIENT_CONNECTION`, or a
/// SignalRequest that is not an offer in lenient mode).
pub fn placeholder(session_id: &str, location: &str) -> String {
    format!(
        "{{\"type\":\"answer\",\"sdp\":\"v=0\\r\\no=gameliftstreams-local {session_id} 2 IN IP4 127.0.0.1\\r\\ns={location}\\r\\n\"}}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_follow_the_host_a_caller_reached() {
        let seeded = web_sdk_url("127.0.0.1:9080", "sg-1");
        let served = web_sdk_url("127.0.0.1:41234", "sg-1");
        assert_eq!(rehost(&seeded, "127.0.0.1:41234"), served);
        assert_eq!(rehost(&served, "127.0.0.1:41234"), served);
        assert_eq!(
            rehost("http://127.0.0.1:9080/_local/streamurls/su-1?token=t", "[::1]:7"),
            "http://[::1]:7/_local/streamurls/su-1?token=t"
        );
        // Not one of this server's addresses, or no host to put in: unchanged.
        for other in ["https://example.com/x.js", "http://h/elsewhere/x.js", "s3://b/k", ""] {
            assert_eq!(rehost(other, "127.0.0.1:1"), other);
        }
        assert_eq!(rehost(&seeded, ""), seeded);

        let answer = answer_json("v=0\r\n", &seeded);
        let moved = rehost_answer(&answer, "localhost:8");
        let v: serde_json::Value = serde_json::from_str(&moved).unwrap();
        assert_eq!(v["webSdkProtocolUrl"], web_sdk_url("localhost:8", "sg-1"));
        assert_eq!(v["sdp"], "v=0\r\n");
        assert!(moved.starts_with("{\"type\":\"answer\",\"sdp\":"), "{moved}");
        let placeholder = placeholder("s-1", "us-west-2");
        assert_eq!(rehost_answer(&placeholder, "localhost:8"), placeholder);
        assert_eq!(rehost_answer("not json", "localhost:8"), "not json");
    }

    const SDK_OFFER_SDP: &str = "v=0\no=- 1 2 IN IP4 127.0.0.1\ns=-\nt=0 0\na=group:BUNDLE 0 1 2\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111\nc=IN IP4 0.0.0.0\na=mid:0\na=rtpmap:111 opus/48000/2\n\
        m=video 9 UDP/TLS/RTP/SAVPF 102\nc=IN IP4 0.0.0.0\na=mid:1\na=rtpmap:102 H264/90000\n\
        b=TIAS:19000000\nb=AS:19000\n\
        m=application 9 UDP/DTLS/SCTP webrtc-datachannel\nc=IN IP4 0.0.0.0\na=mid:2\n";

    #[test]
    fn requests_are_classified() {
        assert_eq!(classify("NO_CLIENT_CONNECTION"), Signal::NoClient);
        assert_eq!(classify("v=0 offer"), Signal::Other);
        assert_eq!(classify("offer"), Signal::Other);
        assert_eq!(classify("{\"type\":\"answer\",\"sdp\":\"v=0\"}"), Signal::Other);
        let json = serde_json::json!({"type": "offer", "sdp": SDK_OFFER_SDP, "webSdkVersion": "1.1.0"}).to_string();
        assert!(matches!(classify(&json), Signal::Offer(_)));
        assert!(matches!(classify(SDK_OFFER_SDP), Signal::Offer(_)));
        // JSON that says offer is an offer, even when its SDP is unusable.
        assert_eq!(
            classify("{\"type\":\"offer\",\"sdp\":\"junk\"}"),
            Signal::Offer("junk\r\n".into())
        );
    }

    #[test]
    fn the_sdk_offer_is_normalized() {
        let n = normalize(SDK_OFFER_SDP);
        assert!(n.ends_with("\r\n") && !n.replace("\r\n", "").contains('\n'));
        let lines: Vec<&str> = n.split("\r\n").collect();
        let video = lines.iter().position(|l| l.starts_with("m=video")).unwrap();
        assert_eq!(lines[video + 1], "c=IN IP4 0.0.0.0");
        assert_eq!(lines[video + 2], "a=mid:1");
        assert!(!lines.iter().any(|l| l.starts_with("b=")));
        assert_eq!(lines.iter().filter(|l| l.starts_with("m=")).count(), 3);
        assert_eq!(lines.last(), Some(&""));
    }

    #[test]
    fn answers_have_exactly_the_members_the_sdk_reads() {
        let a: serde_json::Value = serde_json::from_str(&answer_json("v=0\r\n", "http://h/x.js")).unwrap();
        assert_eq!(
            a,
            serde_json::json!({"type": "answer", "sdp": "v=0\r\n", "webSdkProtocolUrl": "http://h/x.js"})
        );
    }
}
