//! Principal patterns of rule files (allow-set `users` and `roles`, `break_glass`,
//! `warden_principals`): which IAM users and roles a pattern names, by ARN structure, so that a
//! wildcard never lets in a look-alike at another path.
//!
//! Semantics (documented for rule authors in `rules/default.toml` and README.md, "Rules"):
//!
//! - A pattern is an IAM ARN pattern `arn:PARTITION:iam::ACCOUNT:user/PATH/NAME` (or `role/…`).
//!   Each part before the resource is matched on its own: a wildcard never crosses a `:`.
//! - In the resource (`user/…`, `role/…`), `*` and `?` stay inside one path segment: they never
//!   cross a `/`. `arn:*:iam::*:role/warden-*` names `role/warden-x` at the root path, and neither
//!   `role/warden-apps/evil` nor `role/apps/warden-x`.
//! - A segment that is exactly `**` stands for zero or more whole path segments: a pattern that wants
//!   a name at any path says so, `arn:*:iam::*:role/**/deploy` (it names `role/deploy`,
//!   `role/ci/deploy`, `role/a/b/deploy`, never `role/xdeploy`).
//! - Matching is case-sensitive, as ARNs in policies are.
//!
//! When the event does not tell the principal's path (a session without `sessionIssuer`, a user
//! without an ARN), the answer may be "cannot tell": a pattern that names a path, or only the root
//! path, may or may not hold for a name whose real path is unknown ("IAM identifiers", IAM user guide:
//! names are unique regardless of path, but ARNs include it).
//!
//! This file owns matching and the checks `rules` runs on each pattern; it does not know what a rule
//! does with a match (`decision`'s business).

use crate::arn::Arn;
use crate::wildcard;

/// Whether a principal pattern holds for a caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalMatch {
    Yes,
    No,
    /// The principal's path is not known and the answer depends on it.
    Unknown,
}

/// Whether `pattern` names the principal `arn` (whose path is known: the ARN carries it).
pub fn matches(pattern: &str, arn: &str) -> bool {
    let (Some(p), Some(a)) = (Arn::parse(pattern), Arn::parse(arn)) else {
        return false;
    };
    head_matches(&p, &a) && segments_match(p.resource, a.resource.split('/'))
}

/// Whether `pattern` names the principal `arn`; when `path_known` is false, `arn` is the name at
/// the root path (`…:role/NAME`) and stands for that name at any path.
pub fn matches_caller(pattern: &str, arn: &str, path_known: bool) -> PrincipalMatch {
    let (Some(p), Some(a)) = (Arn::parse(pattern), Arn::parse(arn)) else {
        return PrincipalMatch::No;
    };
    matches_parsed(&p, &a, path_known)
}

/// `matches_caller` on a pattern and an ARN already parsed, for a caller checked against many
/// patterns (each decision checks the break-glass, Warden and allow-set patterns).
pub fn matches_parsed(p: &Arn<'_>, a: &Arn<'_>, path_known: bool) -> PrincipalMatch {
    let whole = || head_matches(p, a) && segments_match(p.resource, a.resource.split('/'));
    if path_known {
        return yes_if(whole());
    }
    let Some((kind, name)) = a.resource.split_once('/') else {
        // `root` and other path-less principals: the ARN is the whole story.
        return yes_if(whole());
    };
    let mut p_segments = p.resource.split('/');
    if !head_matches(p, a) || !p_segments.next().is_some_and(|k| segment(k, kind)) {
        return PrincipalMatch::No;
    }
    // The name at the root path, and below one, two and three path segments no real path spells
    // (`KIND/ELSEWHERE/…/NAME`, its segments chained without building the string).
    const ELSEWHERE: &str = "\u{1}\u{1}";
    let at_depth = |depth: usize| {
        let text = std::iter::once(kind)
            .chain(std::iter::repeat_n(ELSEWHERE, depth))
            .chain(name.split('/'));
        segments_match(p.resource, text)
    };
    let hits = (0..4).filter(|d| at_depth(*d)).count();
    if hits == 4 {
        return PrincipalMatch::Yes;
    }
    // Some real path could still spell the pattern's path, as long as its last segment takes the name.
    let last = p.resource.rsplit('/').next().unwrap_or("");
    if hits > 0 || last == "**" || segment(last, name) {
        PrincipalMatch::Unknown
    } else {
        PrincipalMatch::No
    }
}

fn yes_if(b: bool) -> PrincipalMatch {
    if b {
        PrincipalMatch::Yes
    } else {
        PrincipalMatch::No
    }
}

fn head_matches(p: &Arn<'_>, a: &Arn<'_>) -> bool {
    wildcard::matches(p.partition, a.partition)
        && wildcard::matches(p.service, a.service)
        && wildcard::matches(p.region, a.region)
        && wildcard::matches(p.account, a.account)
}

/// One path segment against one pattern segment (`*`/`?` cannot cross `/`: there is none inside).
fn segment(pattern: &str, text: &str) -> bool {
    wildcard::matches(pattern, text)
}

/// The resource part, segment by segment (`text`: the resource's `/`-separated segments), `**`
/// standing for zero or more whole segments: greedy matching with one backtrack point (the last
/// `**`), as `wildcard` does with characters. Positions are iterator clones, so nothing is
/// allocated (this runs for every principal pattern a decision checks).
fn segments_match<'t>(pattern: &str, text: impl Iterator<Item = &'t str> + Clone) -> bool {
    let mut p = pattern.split('/');
    let mut t = text;
    // After the last `**` seen: where the pattern resumes, and the text position it last tried.
    let mut star: Option<(std::str::Split<'_, char>, _)> = None;
    loop {
        let (mut p_next, mut t_next) = (p.clone(), t.clone());
        match (p_next.next(), t_next.next()) {
            (Some("**"), _) => {
                p = p_next;
                star = Some((p.clone(), t.clone()));
            }
            (Some(ps), Some(ts)) if segment(ps, ts) => {
                p = p_next;
                t = t_next;
            }
            (None, None) => return true,
            _ => match star.as_mut() {
                // Mismatch: let the last `**` swallow one more segment, or fail.
                Some((star_p, star_t)) => {
                    if star_t.next().is_none() {
                        return false;
                    }
                    p = star_p.clone();
                    t = star_t.clone();
                }
                None => return false,
            },
        }
    }
}

/// What kind of principal a pattern field names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Names {
    Users,
    Roles,
    /// `break_glass` and `warden_principals`: users or roles.
    UsersOrRoles,
}

/// Characters IAM names and paths may hold ("IAM identifiers": names `[\w+=,.@-]+`, paths of the
/// same characters between slashes).
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)
}

/// Checks one principal pattern: `Err` with the message a rule file's error shows. Refused: what is
/// not an IAM user or role ARN pattern, characters IAM names cannot hold, a `**` inside a segment,
/// and a pattern that names every user or role (every name at the paths it gives): that is never
/// what an allow-set or an exemption means.
pub fn check(pattern: &str, names: Names) -> Result<(), String> {
    let Some(arn) = Arn::parse(pattern) else {
        return Err(match pattern {
            "*" | "**" => format!("`{pattern}` matches every principal"),
            _ => format!(
                "`{pattern}` is not an IAM principal ARN pattern (such as `arn:*:iam::*:role/ops-*`)"
            ),
        });
    };
    let kinds: &[&str] = match names {
        Names::Users => &["user"],
        Names::Roles => &["role"],
        Names::UsersOrRoles => &["user", "role"],
    };
    let expected = kinds
        .iter()
        .map(|k| format!("`{k}/`"))
        .collect::<Vec<_>>()
        .join(" or ");
    if !wildcard::matches(arn.service, "iam") {
        return Err(format!(
            "`{pattern}` is not an IAM ARN (its service must be `iam`; for a session, name the role behind it, `arn:…:iam::…:role/…`)"
        ));
    }
    if !arn.region.is_empty() {
        return Err(format!(
            "`{pattern}` has a region, and IAM ARNs have none (`arn:aws:iam::ACCOUNT:…`)"
        ));
    }
    if !arn
        .partition
        .chars()
        .all(|c| c.is_ascii_lowercase() || c == '-' || c == '*' || c == '?')
    {
        return Err(format!("`{pattern}` has an invalid partition"));
    }
    if !arn
        .account
        .chars()
        .all(|c| c.is_ascii_digit() || c == '*' || c == '?')
        || arn.account.is_empty()
    {
        return Err(format!(
            "`{pattern}` has an invalid account (12 digits, or a wildcard)"
        ));
    }
    let mut segments = arn.resource.split('/');
    let kind = segments.next().unwrap_or("");
    if wildcard::has_wildcard(kind) && kinds.iter().any(|k| wildcard::matches(kind, k)) {
        return Err(format!(
            "`{pattern}` matches every principal (write the kind: {expected})"
        ));
    }
    if !kinds.contains(&kind) {
        return Err(format!(
            "`{pattern}` names no {} (its resource must start with {expected})",
            match names {
                Names::Users => "user",
                Names::Roles => "role",
                Names::UsersOrRoles => "user or role",
            }
        ));
    }
    let rest: Vec<&str> = segments.collect();
    if rest.is_empty() {
        return Err(format!("`{pattern}` names no {kind} after `{kind}/`"));
    }
    for s in &rest {
        if s.is_empty() {
            return Err(format!(
                "`{pattern}` has an empty path segment (`//`, or a trailing `/`)"
            ));
        }
        if *s != "**" && s.contains("**") {
            return Err(format!(
                "`{pattern}`: `**` stands for whole path segments and must be one (`{kind}/**/name`), not part of `{s}`"
            ));
        }
        if let Some(bad) = s
            .chars()
            .find(|c| !is_name_char(*c) && *c != '*' && *c != '?')
        {
            return Err(format!(
                "`{pattern}` holds `{bad}`, which IAM names and paths cannot (they hold letters, digits and `_+=,.@-`; patterns add `*` and `?`)"
            ));
        }
    }
    if rest.iter().all(|s| s.chars().all(|c| c == '*' || c == '?')) {
        return Err(format!(
            "`{pattern}` matches every {kind} (name the principals: a name, a prefix such as `{kind}/ops-*`, or a path such as `{kind}/ops/*`)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn wildcards_stay_inside_a_segment() {
        let p = "arn:*:iam::*:role/warden-*";
        assert!(matches(p, "arn:aws:iam::1:role/warden-handler"));
        assert!(matches(p, "arn:aws-cn:iam::1:role/warden-"));
        assert!(!matches(p, "arn:aws:iam::1:role/warden-apps/evil"));
        assert!(!matches(p, "arn:aws:iam::1:role/apps/warden-x"));
        assert!(!matches(p, "arn:aws:iam::1:user/warden-x"));
        assert!(!matches(p, "arn:aws:sts::1:assumed-role/warden-x/s"));
        assert!(!matches("arn:aws:iam::1?:role/x", "arn:aws:iam::1:role/x"));
        assert!(matches(
            "arn:aws:iam::1:role/ops/*",
            "arn:aws:iam::1:role/ops/a"
        ));
        assert!(!matches(
            "arn:aws:iam::1:role/ops/*",
            "arn:aws:iam::1:role/ops/a/b"
        ));
        assert!(!matches(
            "arn:aws:iam::1:role/ops/*",
            "arn:aws:iam::1:role/ops"
        ));
    }

    #[test]
    fn double_star_is_any_path() {
        let p = "arn:*:iam::*:role/**/deploy";
        for yes in [
            "arn:aws:iam::1:role/deploy",
            "arn:aws:iam::1:role/ci/deploy",
            "arn:aws:iam::1:role/a/b/c/deploy",
        ] {
            assert!(matches(p, yes), "{yes}");
        }
        for no in [
            "arn:aws:iam::1:role/xdeploy",
            "arn:aws:iam::1:role/deploy/x",
            "arn:aws:iam::1:role/ci/deploy-x",
        ] {
            assert!(!matches(p, no), "{no}");
        }
        assert!(matches(
            "arn:aws:iam::1:role/a/**/b/**/c",
            "arn:aws:iam::1:role/a/x/b/y/z/c"
        ));
        assert!(!matches(
            "arn:aws:iam::1:role/a/**/b/**/c",
            "arn:aws:iam::1:role/a/x/c"
        ));
    }

    #[test]
    fn an_unknown_path_is_unknown_unless_the_pattern_takes_any_path() {
        let pathless = "arn:aws:iam::1:role/warden-x";
        assert_eq!(
            matches_caller("arn:*:iam::*:role/**/warden-*", pathless, false),
            PrincipalMatch::Yes
        );
        assert_eq!(
            matches_caller("arn:*:iam::*:role/warden-*", pathless, false),
            PrincipalMatch::Unknown
        );
        assert_eq!(
            matches_caller("arn:*:iam::*:role/apps/warden-*", pathless, false),
            PrincipalMatch::Unknown
        );
        assert_eq!(
            matches_caller("arn:*:iam::*:role/break-glass*", pathless, false),
            PrincipalMatch::No
        );
        assert_eq!(
            matches_caller("arn:*:iam::2:role/**/warden-*", pathless, false),
            PrincipalMatch::No
        );
        assert_eq!(
            matches_caller("arn:*:iam::*:user/**/warden-*", pathless, false),
            PrincipalMatch::No
        );
        assert_eq!(
            matches_caller("arn:*:iam::*:role/warden-*", pathless, true),
            PrincipalMatch::Yes
        );
    }

    #[test]
    fn checks_refuse_what_names_everyone_or_nothing() {
        for (p, names, want) in [
            ("*", Names::UsersOrRoles, "matches every principal"),
            (
                "arn:*:iam::*:*",
                Names::UsersOrRoles,
                "matches every principal",
            ),
            (
                "arn:aws:iam::*:role/*",
                Names::UsersOrRoles,
                "matches every role",
            ),
            ("arn:aws:iam::*:role/**", Names::Roles, "matches every role"),
            (
                "arn:aws:iam::1:user/**/*",
                Names::Users,
                "matches every user",
            ),
            ("arn:aws:iam::1:role/x", Names::Users, "names no user"),
            (
                "arn:aws:sts::1:assumed-role/x/y",
                Names::Roles,
                "not an IAM ARN",
            ),
            ("arn:aws:iam::1:role/a b", Names::Roles, "holds ` `"),
            ("arn:aws:iam::1:role/a#", Names::Roles, "holds `#`"),
            (
                "arn:aws:iam::1:role/a**",
                Names::Roles,
                "`**` stands for whole",
            ),
            ("arn:aws:iam::1:role//a", Names::Roles, "empty path segment"),
            ("arn:aws:iam::1:role/", Names::Roles, "empty path segment"),
            (
                "arn:aws:iam:us-east-1:1:role/a",
                Names::Roles,
                "has a region",
            ),
            ("arn:aws:iam::x:role/a", Names::Roles, "invalid account"),
            ("role/a", Names::Roles, "not an IAM principal ARN pattern"),
        ] {
            let err = check(p, names).expect_err(p);
            assert!(err.contains(want), "{p}: {err}");
        }
        for ok in [
            "arn:*:iam::*:role/warden-*",
            "arn:*:iam::*:role/**/deploy",
            "arn:aws:iam::123456789012:role/ops/*",
            "arn:aws-us-gov:iam::123456789012:role/a+b=c,d.e@f_g-h",
        ] {
            assert_eq!(check(ok, Names::Roles), Ok(()), "{ok}");
        }
    }

    /// Path segments and names, with the characters IAM allows (and a few that look alike).
    fn segment_text() -> impl Strategy<Value = String> {
        "[a-cA+=,.@_-]{1,5}"
    }

    /// Pattern segments: name characters with `*` and `?` sprinkled in (never the any-path `**`).
    fn segment_pattern() -> impl Strategy<Value = String> {
        "[a-c*?+.-]{1,5}".prop_filter("`**` is the any-path segment", |s| s != "**")
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        // INVARIANT (principal-pattern-path): a pattern without `**` names principals at exactly the
        // path it spells (as many segments as it has), never at another: a wildcard never crosses `/`.
        #[test]
        fn a_pattern_never_matches_at_another_path(
            kind in prop::sample::select(vec!["user", "role"]),
            pattern_path in proptest::collection::vec(segment_pattern(), 0..3),
            pattern_name in segment_pattern(),
            path in proptest::collection::vec(segment_text(), 0..4),
            name in segment_text(),
        ) {
            let pattern_resource: String = pattern_path.iter().map(|s| format!("{s}/")).collect::<String>() + &pattern_name;
            let pattern = format!("arn:*:iam::*:{kind}/{pattern_resource}");
            let arn = format!("arn:aws:iam::123456789012:{kind}/{}{name}", path.iter().map(|s| format!("{s}/")).collect::<String>());
            if matches(&pattern, &arn) {
                prop_assert_eq!(path.len(), pattern_path.len(), "{} matched {}", pattern, arn);
                for (p, t) in pattern_path.iter().zip(&path) {
                    prop_assert!(wildcard::matches(p, t));
                }
                prop_assert!(wildcard::matches(&pattern_name, &name));
            }
            // The other kind never matches.
            let other = if kind == "user" { "role" } else { "user" };
            let other_arn = arn.replace(&format!(":{kind}/"), &format!(":{other}/"));
            prop_assert!(!matches(&pattern, &other_arn), "{} matched {}", pattern, other_arn);
        }

        // INVARIANT (principal-pattern-unknown-path): for a name whose path is unknown, `Yes` only
        // when the pattern holds at every path, `No` only when it holds at none.
        #[test]
        fn an_unknown_path_answer_agrees_with_every_path(
            pattern_path in proptest::collection::vec(prop_oneof![segment_pattern(), Just("**".to_owned())], 0..3),
            pattern_name in segment_pattern(),
            paths in proptest::collection::vec(proptest::collection::vec(segment_text(), 0..3), 1..6),
            name in segment_text(),
        ) {
            let pattern = format!("arn:*:iam::*:role/{}{pattern_name}", pattern_path.iter().map(|s| format!("{s}/")).collect::<String>());
            let pathless = format!("arn:aws:iam::1:role/{name}");
            let answer = matches_caller(&pattern, &pathless, false);
            for path in &paths {
                let arn = format!("arn:aws:iam::1:role/{}{name}", path.iter().map(|s| format!("{s}/")).collect::<String>());
                match answer {
                    PrincipalMatch::Yes => prop_assert!(matches(&pattern, &arn), "{} {}", pattern, arn),
                    PrincipalMatch::No => prop_assert!(!matches(&pattern, &arn), "{} {}", pattern, arn),
                    PrincipalMatch::Unknown => {}
                }
            }
        }

        // Without `**`, the segment matcher is the character matcher applied segment by segment.
        #[test]
        fn segments_agree_with_the_character_matcher_per_segment(
            pattern in proptest::collection::vec(segment_pattern(), 1..4),
            text in proptest::collection::vec(segment_text(), 1..4),
        ) {
            let want = pattern.len() == text.len() && pattern.iter().zip(&text).all(|(p, t)| wildcard::matches(p, t));
            prop_assert_eq!(segments_match(&pattern.join("/"), text.join("/").split('/')), want);
        }

        // The segments an unknown path is tried at, chained without building the string, are
        // those of the string (`KIND/ELSEWHERE/…/NAME`) split at its slashes.
        #[test]
        fn chained_segments_agree_with_the_built_text(
            pattern_path in proptest::collection::vec(prop_oneof![segment_pattern(), Just("**".to_owned()), Just("\u{1}\u{1}".to_owned())], 0..4),
            pattern_name in segment_pattern(),
            depth in 0usize..4,
            name in segment_text(),
        ) {
            let pattern = format!("role/{}{pattern_name}", pattern_path.iter().map(|s| format!("{s}/")).collect::<String>());
            let built = format!("role/{}{name}", "\u{1}\u{1}/".repeat(depth));
            let chained = std::iter::once("role").chain(std::iter::repeat_n("\u{1}\u{1}", depth)).chain(name.split('/'));
            prop_assert_eq!(segments_match(&pattern, chained), segments_match(&pattern, built.split('/')));
        }
    }
}
