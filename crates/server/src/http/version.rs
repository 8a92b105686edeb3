//! CDI versions (`cdi-version` header, `supertokens_max_cdi_version`, `/apiversion`).

/// A CDI version, `major.minor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u32, pub u32);

impl Version {
    pub fn parse(s: &str) -> Option<Version> {
        let (a, b) = s.trim().split_once('.')?;
        Some(Version(a.parse().ok()?, b.parse().ok()?))
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_order() {
        assert!(Version::parse("5.4").unwrap() > Version::parse("5.3").unwrap());
        assert!(Version::parse("5.10").unwrap() > Version::parse("5.4").unwrap());
        assert!(Version::parse("abc").is_none());
    }
}
