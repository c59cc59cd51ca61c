//! A response the guest holds a handle to: from the network, or answered by
//! the runner itself (a model call a spent budget refuses). A model call's
//! body is teed into a usage meter as the guest reads it and recorded once,
//! at its end or when the guest lets go of it early, as the native host does.

use wasiclaw_policy::metering::UsageMeter;
use wasiclaw_policy::model_calls::{refusal_body, Recorder, REFUSAL_STATUS};
use wasiclaw_policy::redact::Redactor;

use crate::errors::{code, Fail};
use crate::net::Incoming;

enum Source {
    Net(Incoming),
    /// The body and how much of it the guest has read.
    Canned(Vec<u8>, usize),
}

pub struct Response {
    pub status: u16,
    /// Lower-cased names, in the order received.
    pub headers: Vec<(String, String)>,
    body: Source,
    meter: Option<(UsageMeter, Recorder)>,
    /// From a keyed provider origin: the key is redacted from what the guest
    /// reads; `ready` holds redacted bytes not yet read.
    redactor: Option<Redactor>,
    ready: Vec<u8>,
    ready_at: usize,
}

impl Response {
    /// A network response; `recorder` set for a metered model call,
    /// `secrets` (what the host added to the request) to redact.
    pub fn net(mut incoming: Incoming, recorder: Option<Recorder>, secrets: &[String]) -> Response {
        let redactor = Redactor::new(secrets.iter().map(String::as_str));
        let mut headers = std::mem::take(&mut incoming.headers);
        if let Some(r) = &redactor {
            // Redaction may change the body's length.
            headers.retain(|(k, _)| k != "content-length");
            for (_, v) in headers.iter_mut() {
                *v = String::from_utf8_lossy(&r.redact_all(v.as_bytes())).into_owned();
            }
        }
        let ctype = headers
            .iter()
            .find(|(k, _)| k == "content-type")
            .map_or("", |(_, v)| v.as_str());
        let meter = recorder.map(|r| (UsageMeter::new(ctype), r));
        Response {
            status: incoming.status,
            headers,
            body: Source::Net(incoming),
            meter,
            redactor,
            ready: Vec::new(),
            ready_at: 0,
        }
    }

    /// The provider-shaped refusal of a model call (the native host's).
    pub fn refusal(why: &str) -> Response {
        Response {
            status: REFUSAL_STATUS,
            headers: vec![("content-type".into(), "application/json".into())],
            body: Source::Canned(refusal_body(why).into_bytes(), 0),
            meter: None,
            redactor: None,
            ready: Vec::new(),
            ready_at: 0,
        }
    }

    /// The next body bytes into `buf`, redacted where a key could show;
    /// `0` at the end.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize, Fail> {
        if self.redactor.is_none() && self.ready_at == self.ready.len() {
            return self.read_raw(buf);
        }
        while self.ready_at == self.ready.len() {
            // The guest's buffer holds the raw bytes until they are redacted
            // into `ready`, which is then copied back into it.
            let n = self.read_raw(buf)?;
            let Some(r) = self.redactor.as_mut() else {
                break;
            };
            self.ready = if n == 0 {
                r.finish()
            } else {
                r.feed(&buf[..n])
            };
            self.ready_at = 0;
            if n == 0 {
                self.redactor = None;
                break;
            }
        }
        let rest = &self.ready[self.ready_at..];
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.ready_at += n;
        Ok(n)
    }

    /// The next bytes as they came, metered.
    fn read_raw(&mut self, buf: &mut [u8]) -> Result<usize, Fail> {
        let got = match &mut self.body {
            Source::Net(incoming) => incoming.read(buf),
            Source::Canned(body, pos) => {
                let n = (body.len() - *pos).min(buf.len());
                buf[..n].copy_from_slice(&body[*pos..*pos + n]);
                *pos += n;
                Ok(n)
            }
        };
        match got {
            Ok(0) => self.record(),
            Ok(n) => {
                if let Some((meter, _)) = self.meter.as_mut() {
                    meter.feed(&buf[..n]);
                }
            }
            // A body cut at the size limit is not metered (as natively).
            Err(Fail {
                code: code::TOO_LARGE,
                ..
            }) => self.meter = None,
            Err(_) => {}
        }
        got
    }

    fn record(&mut self) {
        if let Some((meter, recorder)) = self.meter.take() {
            if let Err(e) = recorder.record(meter) {
                eprintln!("wasiclaw-wamr: cannot record token usage: {e}");
            }
        }
    }
}

impl Drop for Response {
    fn drop(&mut self) {
        self.record();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_reads_as_the_provider_shaped_error() {
        let mut r = Response::refusal("budget spent");
        assert_eq!(r.status, 403);
        let mut body = Vec::new();
        let mut buf = [0u8; 7];
        loop {
            let n = r.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            body.extend_from_slice(&buf[..n]);
        }
        let body = String::from_utf8(body).unwrap();
        assert!(
            body.contains(r#""message":"wasiclaw host: budget spent""#),
            "{body}"
        );
        assert_eq!(r.read(&mut buf).unwrap(), 0);
    }
}
