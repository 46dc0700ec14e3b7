//! Scripted faults: NIKs whose serial (last four digits) is 9000-9999 are
//! reserved, so any client, in any language, can trigger every error path.

/// What a reserved NIK makes the sandbox answer.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// 503 with the documented body, sent fields null.
    ServiceUnavailable,
    /// 429 with `Retry-After: 1`.
    RateLimited,
    /// 502 with an HTML page, as a proxy would.
    BadGatewayHtml,
    /// Waits `slow_delay`, then succeeds.
    Slow,
    /// Alternates per NIK: odd attempts 503, even attempts succeed.
    FailsOnceThenSucceeds,
    /// 400 with the documentation's own malformed body (a trailing comma).
    MalformedBadRequest,
    /// 401.
    Unauthorized,
    /// 403 with the gateway's body.
    Forbidden,
    /// 404.
    NotFound,
    /// 500 with a JSON body.
    InternalError,
    /// 504 with an empty body.
    GatewayTimeoutEmpty,
    /// 200 whose body is not JSON.
    NotJson,
    /// 200 JSON without `verification_status`.
    WrongShape,
}

/// Every scripted fault: serial, fault, what it answers.
pub const FAULTS: &[(&str, Fault, &str)] = &[
    ("9503", Fault::ServiceUnavailable, "503 Something wrong in Dukcapil server (fields null)"),
    ("9429", Fault::RateLimited, "429 with Retry-After: 1"),
    ("9502", Fault::BadGatewayHtml, "502 with an HTML body"),
    ("9408", Fault::Slow, "waits slow_delay, then 200 Verification Success"),
    ("9001", Fault::FailsOnceThenSucceeds, "503 on odd attempts, 200 Verification Success on even"),
    (
        "9400",
        Fault::MalformedBadRequest,
        "400 Invalid NIK number format, body not valid JSON (as documented)",
    ),
    ("9401", Fault::Unauthorized, "401"),
    ("9403", Fault::Forbidden, "403 Access to this API has been disallowed"),
    ("9404", Fault::NotFound, "404"),
    ("9500", Fault::InternalError, "500 with a JSON body"),
    ("9504", Fault::GatewayTimeoutEmpty, "504 with an empty body"),
    ("9200", Fault::NotJson, "200 whose body is not JSON"),
    ("9201", Fault::WrongShape, "200 JSON without verification_status"),
];

/// The region and birth date used for the documented fault NIKs.
pub const FAULT_NIK_PREFIX: &str = "317101100190";

/// The fault a NIK triggers, by its last four digits.
pub fn fault_for(nik: &str) -> Option<Fault> {
    let serial = nik.get(12..)?;
    FAULTS.iter().find(|(s, _, _)| *s == serial).map(|(_, f, _)| *f)
}

/// The example NIK for a fault (prefix [`FAULT_NIK_PREFIX`]).
pub fn example_nik(fault: Fault) -> String {
    let serial =
        FAULTS.iter().find(|(_, f, _)| *f == fault).map(|(s, _, _)| *s).expect("every fault is listed");
    format!("{FAULT_NIK_PREFIX}{serial}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_example_nik_is_valid_and_maps_back() {
        for (_, fault, _) in FAULTS {
            let nik = example_nik(*fault);
            glair_vision::Nik::parse(&nik).unwrap();
            assert_eq!(fault_for(&nik), Some(*fault));
        }
        assert_eq!(fault_for("3171014508900001"), None);
        assert_eq!(fault_for("3171011001909999"), None);
    }
}
