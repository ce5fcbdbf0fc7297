//! Rates from the agreement: messages per sending court and kind, counted on both
//! gateways (GCRA, by the `governor` crate), on the gateway's own clock.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::clock::Clock as _;
use governor::nanos::Nanos;
use governor::state::keyed::HashMapStateStore;
use governor::{Quota, RateLimiter};

use crate::agreement::ActiveAgreement;
use crate::clock::SharedClock;
use crate::ids::{CourtId, MessageKind, Sha256};

/// The gateway clock, as governor reads time.
#[derive(Clone, Debug)]
pub struct GatewayClock(pub SharedClock);

impl governor::clock::Clock for GatewayClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        Nanos::from(self.0.now().unix_timestamp_nanos().max(0) as u64)
    }
}

type Limiter = RateLimiter<
    (CourtId, MessageKind),
    HashMapStateStore<(CourtId, MessageKind)>,
    GatewayClock,
    governor::middleware::NoOpMiddleware<Nanos>,
>;

/// One keyed limiter per agreement version that sets a rate.
pub struct RateLimits {
    clock: GatewayClock,
    limiters: Mutex<HashMap<Sha256, Arc<Limiter>>>,
}

impl RateLimits {
    /// Limits on `clock`.
    pub fn new(clock: SharedClock) -> Self {
        RateLimits {
            clock: GatewayClock(clock),
            limiters: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one message of `kind` from `court` under `agreement`; if it is over the
    /// rate, how long until the next one would be allowed.
    pub fn check(
        &self,
        agreement: &ActiveAgreement,
        court: &CourtId,
        kind: &MessageKind,
    ) -> Result<(), Duration> {
        let Some(rate) = agreement.terms().limits.rate else {
            return Ok(());
        };
        let limiter = {
            let mut map = self.limiters.lock().unwrap_or_else(|p| p.into_inner());
            Arc::clone(map.entry(agreement.digest).or_insert_with(|| {
                let burst = NonZeroU32::new(rate.messages.max(1)).unwrap_or(NonZeroU32::MIN);
                let period = Duration::from_secs(u64::from(rate.per_seconds.max(1))) / burst.get();
                let quota = Quota::with_period(period)
                    .unwrap_or_else(|| Quota::per_second(burst))
                    .allow_burst(burst);
                Arc::new(RateLimiter::hashmap_with_clock(quota, self.clock.clone()))
            }))
        };
        limiter
            .check_key(&(court.clone(), kind.clone()))
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}
