//! Amazon Resource Names: splitting an ARN into its parts and choosing the partition for a region.
//! ("Identify AWS resources with Amazon Resource Names (ARNs)", IAM user guide.) The partition is
//! always derived from what the event says, never assumed to be `aws`.

/// The parts of an ARN, borrowed from the string: `arn:partition:service:region:account:resource`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arn<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

impl<'a> Arn<'a> {
    /// Splits `s` into its six parts; `None` when it is not an ARN.
    pub fn parse(s: &'a str) -> Option<Self> {
        // The text before each of the first five colons, then the rest (what `splitn(6, ':')`
        // yields), found byte by byte: ARNs are short, and this runs for every resource a rule
        // is matched against.
        let mut rest = s;
        let mut part = || {
            let colon = rest.bytes().position(|b| b == b':')?;
            let before = rest.get(..colon)?;
            rest = rest.get(colon + 1..)?;
            Some(before)
        };
        if part()? != "arn" {
            return None;
        }
        let (partition, service, region, account) = (part()?, part()?, part()?, part()?);
        let arn = Arn {
            partition,
            service,
            region,
            account,
            resource: rest,
        };
        (!arn.partition.is_empty() && !arn.service.is_empty()).then_some(arn)
    }
}

/// The partition a region belongs to ("AWS partitions", General Reference); `aws` otherwise.
pub fn partition_for_region(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else {
        "aws"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_iam_and_s3_arns() {
        let a = Arn::parse("arn:aws-us-gov:iam::123456789012:user/division/bob").unwrap();
        assert_eq!(a.partition, "aws-us-gov");
        assert_eq!(a.service, "iam");
        assert_eq!(a.account, "123456789012");
        assert_eq!(a.resource, "user/division/bob");
        let b = Arn::parse("arn:aws:s3:::bucket/key:with:colons").unwrap();
        assert_eq!(b.resource, "bucket/key:with:colons");
        assert!(Arn::parse("not-an-arn").is_none());
        assert!(Arn::parse("arn:aws:iam").is_none());
    }

    #[test]
    fn partitions() {
        assert_eq!(partition_for_region("cn-north-1"), "aws-cn");
        assert_eq!(partition_for_region("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition_for_region("eu-west-1"), "aws");
    }

    /// What `parse` did before it split by hand: `splitn(6, ':')`.
    fn by_splitn(s: &str) -> Option<Arn<'_>> {
        let mut parts = s.splitn(6, ':');
        if parts.next()? != "arn" {
            return None;
        }
        let arn = Arn {
            partition: parts.next()?,
            service: parts.next()?,
            region: parts.next()?,
            account: parts.next()?,
            resource: parts.next()?,
        };
        (!arn.partition.is_empty() && !arn.service.is_empty()).then_some(arn)
    }

    proptest::proptest! {
        #[test]
        fn splits_as_splitn_does(s in "(arn)?(:[a-zé/*]{0,3}){0,7}") {
            proptest::prop_assert_eq!(Arn::parse(&s), by_splitn(&s));
        }
    }
}
