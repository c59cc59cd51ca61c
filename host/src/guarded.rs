//! The response body as the guest reads it, whatever sent the request.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame};
use wasmtime_wasi_http::{Error, WasiBody};

use wasiclaw_policy::metering::UsageMeter;
pub use wasiclaw_policy::model_calls::Recorder;
use wasiclaw_policy::redact::Redactor;

/// The response body as the guest reads it: capped at the policy's size;
/// for model calls, teed into a usage meter that records once at the end (or
/// when the guest stops reading early); from a keyed provider origin, with
/// the key redacted before the guest sees a byte of it.
pub struct GuardedBody {
    inner: WasiBody,
    seen: u64,
    limit: u64,
    meter: Option<(UsageMeter, Recorder)>,
    redactor: Option<Redactor>,
}

impl GuardedBody {
    pub fn new(
        inner: WasiBody,
        limit: u64,
        meter: Option<(UsageMeter, Recorder)>,
        redactor: Option<Redactor>,
    ) -> Self {
        GuardedBody {
            inner,
            seen: 0,
            limit,
            meter,
            redactor,
        }
    }

    fn record(&mut self) {
        let Some((meter, rec)) = self.meter.take() else {
            return;
        };
        if let Err(e) = rec.record(meter) {
            eprintln!("wasiclaw: cannot record token usage: {e}");
        }
    }
}

impl Body for GuardedBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = &mut *self;
        loop {
            let frame = match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => frame,
                Poll::Ready(None) => {
                    this.record();
                    // What the redactor held back in case a key went on.
                    if let Some(mut r) = this.redactor.take() {
                        let rest = r.finish();
                        if !rest.is_empty() {
                            return Poll::Ready(Some(Ok(Frame::data(Bytes::from(rest)))));
                        }
                    }
                    return Poll::Ready(None);
                }
                other => return other,
            };
            let Some(data) = frame.data_ref() else {
                return Poll::Ready(Some(Ok(frame)));
            };
            this.seen += data.len() as u64;
            if this.seen > this.limit {
                eprintln!(
                    "wasiclaw: host cut a response body at the {}-byte limit (host.max_response_bytes)",
                    this.limit
                );
                this.meter = None;
                return Poll::Ready(Some(Err(Error::HttpResponseBodySize(Some(this.limit)))));
            }
            if let Some((m, _)) = this.meter.as_mut() {
                m.feed(data);
            }
            let Some(r) = this.redactor.as_mut() else {
                return Poll::Ready(Some(Ok(frame)));
            };
            let clean = r.feed(data);
            // All of it may be held back; then read on.
            if !clean.is_empty() {
                return Poll::Ready(Some(Ok(Frame::data(Bytes::from(clean)))));
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        // Held-back bytes are still to come after the inner body ends.
        self.inner.is_end_stream() && self.redactor.is_none()
    }
}

impl Drop for GuardedBody {
    fn drop(&mut self) {
        self.record();
    }
}
