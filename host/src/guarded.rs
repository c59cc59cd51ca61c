//! The response body as the guest reads it, whatever sent the request.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame};
use wasmtime_wasi_http::{Error, WasiBody};

use wasiclaw_policy::metering::UsageMeter;
pub use wasiclaw_policy::model_calls::Recorder;

/// The response body as the guest reads it: capped at the policy's size and,
/// for model calls, teed into a usage meter that records once at the end (or
/// when the guest stops reading early).
pub struct GuardedBody {
    inner: WasiBody,
    seen: u64,
    limit: u64,
    meter: Option<(UsageMeter, Recorder)>,
}

impl GuardedBody {
    pub fn new(inner: WasiBody, limit: u64, meter: Option<(UsageMeter, Recorder)>) -> Self {
        GuardedBody {
            inner,
            seen: 0,
            limit,
            meter,
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
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.seen += data.len() as u64;
                    if this.seen > this.limit {
                        eprintln!(
                            "wasiclaw: host cut a response body at the {}-byte limit (host.max_response_bytes)",
                            this.limit
                        );
                        this.meter = None;
                        return Poll::Ready(Some(Err(Error::HttpResponseBodySize(Some(
                            this.limit,
                        )))));
                    }
                    if let Some((m, _)) = this.meter.as_mut() {
                        m.feed(data);
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(None) => {
                this.record();
                Poll::Ready(None)
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }
}

impl Drop for GuardedBody {
    fn drop(&mut self) {
        self.record();
    }
}
