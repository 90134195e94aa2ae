//! Per-client-address limits (SPEC §11: 20 login attempts a minute, 5 registrations an hour,
//! 20 password-reset requests an hour per address). These live in process, as the SPEC
//! allows; the per-account counters that must be shared by every instance live in storage
//! (core's login throttle and reset limit).

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::error::ApiError;

/// Limits per client address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressLimits {
    /// Login attempts per minute.
    pub logins_per_minute: u32,
    /// Registrations per hour.
    pub registrations_per_hour: u32,
    /// Forgot-password requests per hour.
    pub resets_per_hour: u32,
}

impl Default for AddressLimits {
    fn default() -> Self {
        Self { logins_per_minute: 20, registrations_per_hour: 5, resets_per_hour: 20 }
    }
}

/// Which limit a request counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limited {
    /// `POST /auth/login`.
    Login,
    /// `POST /auth/register`.
    Registration,
    /// `POST /auth/password/forgot`.
    Reset,
}

/// The in-process limiters.
#[derive(Clone)]
pub struct AddressLimiter {
    login: Arc<DefaultKeyedRateLimiter<String>>,
    register: Arc<DefaultKeyedRateLimiter<String>>,
    reset: Arc<DefaultKeyedRateLimiter<String>>,
}

impl std::fmt::Debug for AddressLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AddressLimiter").finish_non_exhaustive()
    }
}

fn quota(n: u32, per: Duration) -> Quota {
    let n = NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(per / n.get()).unwrap_or_else(|| Quota::per_second(n)).allow_burst(n)
}

impl AddressLimiter {
    /// Limiters for `limits`.
    pub fn new(limits: AddressLimits) -> Self {
        Self {
            login: Arc::new(DefaultKeyedRateLimiter::keyed(quota(limits.logins_per_minute, Duration::from_secs(60)))),
            register: Arc::new(DefaultKeyedRateLimiter::keyed(quota(
                limits.registrations_per_hour,
                Duration::from_secs(3600),
            ))),
            reset: Arc::new(DefaultKeyedRateLimiter::keyed(quota(limits.resets_per_hour, Duration::from_secs(3600)))),
        }
    }

    /// Counts one request from `address`.
    ///
    /// # Errors
    /// 429 with `Retry-After` once the address is over its limit.
    pub fn check(&self, what: Limited, address: Option<&str>) -> Result<(), ApiError> {
        let limiter = match what {
            Limited::Login => &self.login,
            Limited::Registration => &self.register,
            Limited::Reset => &self.reset,
        };
        let key = address.unwrap_or("unknown").to_owned();
        limiter.check_key(&key).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            helpdesk_core::Error::Throttled { retry_after: wait.max(Duration::from_secs(1)) }.into()
        })
    }

    /// Forgets addresses whose limits have fully replenished (bounded memory).
    pub fn shrink(&self) {
        for l in [&self.login, &self.register, &self.reset] {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_over_its_limit_waits_and_others_do_not() {
        let l = AddressLimiter::new(AddressLimits { registrations_per_hour: 2, ..AddressLimits::default() });
        assert!(l.check(Limited::Registration, Some("10.0.0.1")).is_ok());
        assert!(l.check(Limited::Registration, Some("10.0.0.1")).is_ok());
        let e = l.check(Limited::Registration, Some("10.0.0.1")).err();
        assert!(e.as_ref().is_some_and(|e| e.status.as_u16() == 429 && e.retry_after.is_some_and(|s| s > 60)));
        assert!(l.check(Limited::Registration, Some("10.0.0.2")).is_ok());
        assert!(l.check(Limited::Login, Some("10.0.0.1")).is_ok(), "limits are separate");
    }
}
