//! The Connect protocol as envd speaks it for `process.Process/Start`: the JSON codec inside
//! streaming envelopes (1 flag byte, 4-byte big-endian length, payload), and the messages we send
//! and receive.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use serde::{Deserialize, Serialize};

/// The envelope flag of an ordinary data message.
pub(crate) const FLAG_DATA: u8 = 0x00;
/// The flag of a compressed message (we never negotiate compression, so receiving one is an error).
pub(crate) const FLAG_COMPRESSED: u8 = 0x01;
/// The flag of the final end-of-stream message.
pub(crate) const FLAG_END_STREAM: u8 = 0x02;

/// The size of the envelope header.
const HEADER_LEN: usize = 5;

/// The largest message we accept. Output chunks from envd are small (tens of KiB); anything
/// this large is a corrupt or hostile stream, and buffering it would defeat the output cap.
pub(crate) const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// Wraps one message in an envelope.
pub(crate) fn encode_envelope(flags: u8, payload: &[u8]) -> Result<Bytes, FrameError> {
    let len = u32::try_from(payload.len()).map_err(|_| FrameError::TooLarge(payload.len()))?;
    let mut out = BytesMut::with_capacity(HEADER_LEN + payload.len());
    out.put_u8(flags);
    out.put_u32(len);
    out.put_slice(payload);
    Ok(out.freeze())
}

/// One decoded envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Frame {
    pub(crate) flags: u8,
    pub(crate) payload: Bytes,
}

impl Frame {
    pub(crate) fn is_end_stream(&self) -> bool {
        self.flags & FLAG_END_STREAM != 0
    }
}

/// What can be wrong with a stream of envelopes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FrameError {
    #[error("a Connect message of {0} bytes exceeds the limit")]
    TooLarge(usize),
    #[error("the sandbox sent a compressed Connect message, which was not negotiated")]
    Compressed,
    #[error("the stream ended inside a Connect message ({0} bytes left over)")]
    Truncated(usize),
}

/// Splits a byte stream into envelopes as bytes arrive, whatever the chunking of the transport.
#[derive(Debug, Default)]
pub(crate) struct FrameDecoder {
    buf: BytesMut,
}

impl FrameDecoder {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Adds bytes received from the transport.
    pub(crate) fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// The next complete envelope, if one has fully arrived.
    pub(crate) fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        if self.buf.len() < HEADER_LEN {
            return Ok(None);
        }
        let flags = self.buf[0];
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize;
        if len > MAX_MESSAGE_BYTES {
            return Err(FrameError::TooLarge(len));
        }
        if flags & FLAG_COMPRESSED != 0 {
            return Err(FrameError::Compressed);
        }
        if self.buf.len() < HEADER_LEN + len {
            return Ok(None);
        }
        self.buf.advance(HEADER_LEN);
        let payload = self.buf.split_to(len).freeze();
        Ok(Some(Frame { flags, payload }))
    }

    /// Called at the end of the transport stream: leftover bytes mean a cut message.
    pub(crate) fn finish(&self) -> Result<(), FrameError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(FrameError::Truncated(self.buf.len()))
        }
    }
}

/// `process.StartRequest` in proto3 JSON.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct StartRequest<'a> {
    pub(crate) process: ProcessConfig<'a>,
    /// Explicitly no stdin: the command must see EOF, not wait for input.
    pub(crate) stdin: bool,
}

/// `process.ProcessConfig`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ProcessConfig<'a> {
    pub(crate) cmd: &'a str,
    pub(crate) args: Vec<&'a str>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) envs: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cwd: Option<&'a str>,
}

/// `process.StartResponse`: `{"event": {...}}`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct StartResponse {
    #[serde(default)]
    pub(crate) event: Option<ProcessEvent>,
}

/// `process.ProcessEvent` (a oneof: exactly one of the fields is set).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ProcessEvent {
    #[serde(default)]
    pub(crate) start: Option<StartEvent>,
    #[serde(default)]
    pub(crate) data: Option<DataEvent>,
    #[serde(default)]
    pub(crate) end: Option<EndEvent>,
    #[serde(default)]
    pub(crate) keepalive: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct StartEvent {
    #[serde(default)]
    pub(crate) pid: u32,
}

/// Output bytes, base64 in proto3 JSON.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct DataEvent {
    #[serde(default)]
    pub(crate) stdout: Option<String>,
    #[serde(default)]
    pub(crate) stderr: Option<String>,
    #[serde(default)]
    pub(crate) pty: Option<String>,
}

/// `EndEvent`. Proto3 JSON omits default values: a missing `exitCode` is 0.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EndEvent {
    #[serde(default)]
    pub(crate) exit_code: i32,
    #[serde(default)]
    pub(crate) exited: bool,
    #[serde(default)]
    pub(crate) status: String,
}

impl EndEvent {
    /// The exit status as a shell reports it: the code for a normal exit, 128 + signal for a
    /// process killed by a signal (Go reports those as exit code -1 and `status: "signal: killed"`).
    pub(crate) fn shell_exit_code(&self) -> i32 {
        if let Some(name) = self.status.strip_prefix("signal: ") {
            let sig = match name.trim() {
                "hangup" => 1,
                "interrupt" => 2,
                "quit" => 3,
                "aborted" => 6,
                "killed" => 9,
                "segmentation fault" => 11,
                "broken pipe" => 13,
                "alarm clock" => 14,
                "terminated" => 15,
                _ => 0,
            };
            if sig > 0 {
                return 128 + sig;
            }
        }
        if !self.exited && self.exit_code < 0 {
            // Killed in a way we cannot name: report it as SIGKILL rather than a bogus -1.
            return 128 + 9;
        }
        self.exit_code
    }
}

/// The end-of-stream message: `{}` or `{"error": {"code", "message"}, "metadata": {...}}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct EndStream {
    #[serde(default)]
    pub(crate) error: Option<ConnectError>,
}

/// A Connect error: a lowercase code name (`deadline_exceeded`, `not_found`, ...) and a message.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub(crate) struct ConnectError {
    #[serde(default)]
    pub(crate) code: String,
    #[serde(default)]
    pub(crate) message: String,
}

/// Decodes a base64 output chunk (standard alphabet, padding optional as proto3 JSON allows).
pub(crate) fn decode_bytes(b64: &str) -> Result<Vec<u8>, base64::DecodeError> {
    match STANDARD.decode(b64) {
        Ok(v) => Ok(v),
        Err(first) => {
            // proto3 JSON parsers accept URL-safe and unpadded forms too.
            let cleaned: String = b64
                .trim_end_matches('=')
                .chars()
                .map(|c| match c {
                    '-' => '+',
                    '_' => '/',
                    c => c,
                })
                .collect();
            base64::engine::general_purpose::STANDARD_NO_PAD
                .decode(cleaned)
                .map_err(|_| first)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_round_trip_in_any_chunking() {
        let a = encode_envelope(FLAG_DATA, br#"{"event":{"start":{"pid":7}}}"#).unwrap();
        let b = encode_envelope(FLAG_END_STREAM, b"{}").unwrap();
        assert_eq!(&a[..5], &[0, 0, 0, 0, 29]);
        let mut all = a.to_vec();
        all.extend_from_slice(&b);
        for chunk in [1usize, 2, 3, 5, 7, 64] {
            let mut d = FrameDecoder::new();
            let mut frames = Vec::new();
            for part in all.chunks(chunk) {
                d.push(part);
                while let Some(f) = d.next_frame().unwrap() {
                    frames.push(f);
                }
            }
            d.finish().unwrap();
            assert_eq!(frames.len(), 2, "chunk {chunk}");
            assert_eq!(&frames[0].payload[..], br#"{"event":{"start":{"pid":7}}}"#);
            assert!(!frames[0].is_end_stream());
            assert!(frames[1].is_end_stream());
        }
    }

    #[test]
    fn truncated_compressed_and_huge_are_errors() {
        let a = encode_envelope(FLAG_DATA, b"{\"x\":1}").unwrap();
        let mut d = FrameDecoder::new();
        d.push(&a[..a.len() - 1]);
        assert_eq!(d.next_frame().unwrap(), None);
        assert_eq!(d.finish(), Err(FrameError::Truncated(a.len() - 1)));

        let mut d = FrameDecoder::new();
        d.push(&encode_envelope(FLAG_COMPRESSED, b"x").unwrap());
        assert_eq!(d.next_frame(), Err(FrameError::Compressed));

        let mut d = FrameDecoder::new();
        d.push(&[0, 0xff, 0xff, 0xff, 0xff]);
        assert!(matches!(d.next_frame(), Err(FrameError::TooLarge(_))));
    }

    #[test]
    fn events_parse_as_envd_sends_them() {
        let r: StartResponse =
            serde_json::from_str(r#"{"event":{"data":{"stdout":"aGk="}}}"#).unwrap();
        let data = r.event.unwrap().data.unwrap();
        assert_eq!(
            decode_bytes(data.stdout.as_deref().unwrap()).unwrap(),
            b"hi"
        );

        let r: StartResponse =
            serde_json::from_str(r#"{"event":{"end":{"exited":true,"status":"exit status 0"}}}"#)
                .unwrap();
        assert_eq!(
            r.event.unwrap().end.unwrap().shell_exit_code(),
            0,
            "absent exitCode = 0"
        );

        let r: StartResponse = serde_json::from_str(
            r#"{"event":{"end":{"exitCode":3,"exited":true,"status":"exit status 3","error":"exit status 3"}}}"#,
        )
        .unwrap();
        assert_eq!(r.event.unwrap().end.unwrap().shell_exit_code(), 3);

        let r: StartResponse =
            serde_json::from_str(r#"{"event":{"end":{"exitCode":-1,"status":"signal: killed"}}}"#)
                .unwrap();
        assert_eq!(r.event.unwrap().end.unwrap().shell_exit_code(), 137);

        let r: StartResponse = serde_json::from_str(r#"{"event":{"keepalive":{}}}"#).unwrap();
        assert!(r.event.unwrap().keepalive.is_some());

        let e: EndStream = serde_json::from_str(
            r#"{"error":{"code":"deadline_exceeded","message":"context deadline exceeded"},"metadata":{}}"#,
        )
        .unwrap();
        assert_eq!(e.error.unwrap().code, "deadline_exceeded");
        let e: EndStream = serde_json::from_str("{}").unwrap();
        assert!(e.error.is_none());
    }

    #[test]
    fn start_request_matches_the_wire_shape() {
        let req = StartRequest {
            process: ProcessConfig {
                cmd: "/bin/sh",
                args: vec!["-c", "ls | wc -l"],
                envs: BTreeMap::new(),
                cwd: Some("/home/user/semantic"),
            },
            stdin: false,
        };
        assert_eq!(
            serde_json::to_string(&req).unwrap(),
            r#"{"process":{"cmd":"/bin/sh","args":["-c","ls | wc -l"],"cwd":"/home/user/semantic"},"stdin":false}"#
        );
    }

    #[test]
    fn base64_variants_decode() {
        assert_eq!(decode_bytes("aGk").unwrap(), b"hi");
        assert_eq!(decode_bytes("-_8=").unwrap(), [0xfb, 0xff]);
        assert!(decode_bytes("!!").is_err());
    }
}
