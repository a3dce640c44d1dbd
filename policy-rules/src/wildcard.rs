//! IAM-style wildcard patterns: `*` matches any run of characters (slashes included) and `?` exactly
//! one character, as in IAM `Action` and `Resource` elements ("IAM JSON policy elements: Resource",
//! "Including wildcard characters in resource ARNs"). Matching works on `char`s, never splits UTF-8,
//! and runs in O(pattern × text) without recursion or allocation. Case folding is the caller's
//! choice: actions match case-insensitively, resources case-sensitively.
//!
//! This file owns matching only; it does not know what the strings mean.

/// Whether `text` matches `pattern` (`*` and `?` wildcards), comparing characters exactly.
#[inline]
pub fn matches(pattern: &str, text: &str) -> bool {
    match literal_prefix(pattern, text, |a, b| a == b) {
        Prefix::Differs => false,
        Prefix::Whole => true,
        Prefix::Wildcard(at) => match_after_prefix(pattern, text, at),
    }
}

/// `matches` once the text starts with the pattern's literal prefix and a wildcard follows at
/// `at`: out of line, so that `matches` stays small enough to inline where most patterns are
/// literals that differ early (a rule's `sources` and `events`).
#[inline(never)]
fn match_after_prefix(pattern: &str, text: &str, at: usize) -> bool {
    match match_stars(pattern.as_bytes(), text.as_bytes(), at) {
        Some(answer) => answer,
        None => match_impl(pattern, text, |a, b| a == b),
    }
}

/// `matches` for a pattern whose only wildcard is `*` (most rule patterns: `arn:*:iam::*:role/x-*`),
/// its first `*` at `star` and the text already equal to it before that: the pattern's last literal
/// run must end the text, and the runs between its stars must occur in order in between. Taking
/// each middle run at its first occurrence leaves the most text for the rest, so this answers as
/// the backtracking match does, in one pass. Bytes are compared: a run is valid UTF-8 and starts
/// with no continuation byte, so it is found only on character boundaries. `None` for a pattern
/// with a `?`, which the backtracking match takes.
#[inline]
fn match_stars(pattern: &[u8], text: &[u8], star: usize) -> Option<bool> {
    let after = pattern.get(star..)?;
    if after.contains(&b'?') {
        return None;
    }
    let last_star = star + after.iter().rposition(|&b| b == b'*')?;
    let last = pattern.get(last_star + 1..)?;
    let Some(middle_end) = text.len().checked_sub(last.len()).filter(|&e| e >= star) else {
        return Some(false);
    };
    if text.get(middle_end..) != Some(last) {
        return Some(false);
    }
    if last_star == star {
        return Some(true);
    }
    let mut rest = text.get(star..middle_end)?;
    for run in pattern.get(star + 1..last_star)?.split(|&b| b == b'*') {
        match find(rest, run) {
            Some(at) => rest = rest.get(at + run.len()..)?,
            None => return Some(false),
        }
    }
    Some(true)
}

/// Where `needle` first occurs in `hay`: the first byte looked for, then the rest compared. Runs and
/// texts are short (ARN parts), where this beats a searcher that first studies the needle.
#[inline]
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let Some((&head, tail)) = needle.split_first() else {
        return Some(0);
    };
    let last_start = hay.len().checked_sub(needle.len())?;
    let mut from = 0;
    while from <= last_start {
        let at = from
            + hay
                .get(from..=last_start)?
                .iter()
                .position(|&b| b == head)?;
        if hay.get(at + 1..at + needle.len()) == Some(tail) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Whether `text` matches `pattern`, ignoring ASCII case (IAM action names).
#[inline]
pub fn matches_ignore_ascii_case(pattern: &str, text: &str) -> bool {
    match literal_prefix(pattern, text, |a, b| a.eq_ignore_ascii_case(&b)) {
        Prefix::Differs => false,
        Prefix::Whole => true,
        Prefix::Wildcard(_) => match_impl(pattern, text, |a, b| a.eq_ignore_ascii_case(&b)),
    }
}

/// What the part of a pattern before its first wildcard says about a text.
enum Prefix {
    /// The text cannot match: it differs from the pattern before any wildcard, or ends before it.
    Differs,
    /// The pattern has no wildcard and the text is the same literal.
    Whole,
    /// The text starts with the pattern's literal prefix, and a wildcard follows at this index:
    /// match the rest.
    Wildcard(usize),
}

/// Compares the pattern's literal prefix (up to its first `*` or `?`) with the text byte by byte
/// and stops at the first difference, so a literal pattern that is not the text (most of a rule's
/// `sources` and `events` for any one event) costs the bytes up to the difference, not a scan of the
/// whole pattern for wildcards and then a comparison. Before the first wildcard, matching is a
/// literal comparison, so this answers as the full matching would; `eq` compares bytes exactly
/// or ignoring ASCII case, which leaves every non-ASCII byte (of a UTF-8 sequence) to compare
/// exactly, as comparing the characters would.
#[inline]
fn literal_prefix(pattern: &str, text: &str, eq: impl Fn(u8, u8) -> bool) -> Prefix {
    let text = text.as_bytes();
    for (i, &pc) in pattern.as_bytes().iter().enumerate() {
        if pc == b'*' || pc == b'?' {
            return Prefix::Wildcard(i);
        }
        match text.get(i) {
            Some(&tc) if eq(pc, tc) => {}
            _ => return Prefix::Differs,
        }
    }
    if pattern.len() == text.len() {
        Prefix::Whole
    } else {
        Prefix::Differs
    }
}

/// Whether `pattern` contains a wildcard character.
pub fn has_wildcard(pattern: &str) -> bool {
    pattern.bytes().any(|b| b == b'*' || b == b'?')
}

/// `s` written as a literal in a policy's `Resource` (or a `StringLike` value): `*`, `?` and `$`
/// become IAM's escapes `${*}`, `${?}` and `${$}`, so an S3 key named `reports/*` stands for that
/// object only ("IAM JSON policy elements: Variables and tags", special characters).
pub fn escape_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 3);
    push_escaped(&mut out, s);
    out
}

/// Appends `s` to `out` as [`escape_literal`] writes it. The runs between `*`, `?` and `$` (ASCII,
/// so each falls between characters) are copied whole, not a character at a time.
pub fn push_escaped(out: &mut String, s: &str) {
    let mut rest = s;
    while let Some(i) = rest.bytes().position(|b| matches!(b, b'*' | b'?' | b'$')) {
        out.push_str(rest.get(..i).unwrap_or_default());
        out.push_str("${");
        out.push_str(rest.get(i..=i).unwrap_or_default());
        out.push('}');
        rest = rest.get(i + 1..).unwrap_or_default();
    }
    out.push_str(rest);
}

/// The literal a policy value spells, its `${*}`, `${?}`, `${$}` escapes read back (for operators
/// that compare exactly, such as `StringEquals`).
pub fn unescape_literal(s: &str) -> String {
    s.replace("${*}", "*")
        .replace("${?}", "?")
        .replace("${$}", "$")
}

/// Whether `text` matches a policy pattern in which `*` and `?` are wildcards and the escapes
/// `${*}`, `${?}`, `${$}` stand for those characters literally, as IAM reads a `Resource`.
pub fn matches_policy(pattern: &str, text: &str) -> bool {
    if !pattern.contains("${") {
        return matches(pattern, text);
    }
    #[derive(Clone, Copy, PartialEq)]
    enum Tok {
        Any,
        One,
        Lit(char),
    }
    let mut toks = Vec::with_capacity(pattern.len());
    let mut rest = pattern;
    while let Some(c) = rest.chars().next() {
        let escaped = ["${*}", "${?}", "${$}"]
            .into_iter()
            .find(|e| rest.starts_with(e));
        if let Some(e) = escaped {
            toks.extend(e.chars().nth(2).map(Tok::Lit));
            rest = rest.get(e.len()..).unwrap_or("");
            continue;
        }
        toks.push(match c {
            '*' => Tok::Any,
            '?' => Tok::One,
            c => Tok::Lit(c),
        });
        rest = rest.get(c.len_utf8()..).unwrap_or("");
    }
    let text: Vec<char> = text.chars().collect();
    // Greedy matching with one backtrack point, as `match_ascii`, over tokens.
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        match (toks.get(p), text.get(t)) {
            (Some(Tok::Any), _) => {
                p += 1;
                star = Some((p, t));
            }
            (Some(Tok::One), Some(_)) => {
                p += 1;
                t += 1;
            }
            (Some(Tok::Lit(a)), Some(b)) if a == b => {
                p += 1;
                t += 1;
            }
            (None, None) => return true,
            _ => match star.as_mut() {
                Some((star_p, star_t)) if *star_t < text.len() => {
                    *star_t += 1;
                    p = *star_p;
                    t = *star_t;
                }
                _ => return false,
            },
        }
    }
}

fn match_impl(pattern: &str, text: &str, eq: impl Fn(char, char) -> bool) -> bool {
    // ASCII on both sides (ARNs, actions, sources): the same matching over bytes, without decoding.
    if pattern.is_ascii() && text.is_ascii() {
        return match_ascii(pattern.as_bytes(), text.as_bytes(), |a, b| {
            eq(char::from(a), char::from(b))
        });
    }
    // Fast paths for the shapes rules use most: no wildcard, or a single trailing `*`.
    if !has_wildcard(pattern) {
        return pattern.len() == text.len()
            && pattern.chars().zip(text.chars()).all(|(a, b)| eq(a, b));
    }
    // Classic greedy matching with one backtrack point (the last `*` seen): linear in practice,
    // O(p × t) at worst.
    let mut p = pattern.chars();
    let mut t = text.chars();
    let mut star: Option<(std::str::Chars<'_>, std::str::Chars<'_>)> = None;
    loop {
        let p_before = p.clone();
        match (p.next(), t.clone().next()) {
            (Some('*'), _) => {
                star = Some((p.clone(), t.clone()));
            }
            (Some(pc), Some(tc)) if pc == '?' || eq(pc, tc) => {
                t.next();
            }
            (None, None) => return true,
            _ => {
                // Mismatch: let the last `*` swallow one more character, or fail.
                let _ = p_before;
                match star.as_mut() {
                    Some((star_p, star_t)) => {
                        if star_t.next().is_none() {
                            return false;
                        }
                        p = star_p.clone();
                        t = star_t.clone();
                    }
                    None => return false,
                }
            }
        }
    }
}

/// `match_impl` for ASCII text, where every byte is a character: the same greedy matching with one
/// backtrack point, by index.
fn match_ascii(pattern: &[u8], text: &[u8], eq: impl Fn(u8, u8) -> bool) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    // After the last `*` seen: where the pattern resumes, and the text position it last tried.
    let mut star: Option<(usize, usize)> = None;
    loop {
        match (pattern.get(p), text.get(t)) {
            (Some(b'*'), _) => {
                p += 1;
                star = Some((p, t));
            }
            (Some(&pc), Some(&tc)) if pc == b'?' || eq(pc, tc) => {
                p += 1;
                t += 1;
            }
            (None, None) => return true,
            _ => match star.as_mut() {
                // Mismatch: let the last `*` swallow one more character, or fail.
                Some((star_p, star_t)) if *star_t < text.len() => {
                    *star_t += 1;
                    // Where the literal after the `*` cannot match, the loop would only come back
                    // here: skip those text positions at once.
                    if let Some(&lit) = pattern.get(*star_p).filter(|&&c| c != b'*' && c != b'?') {
                        while text.get(*star_t).is_some_and(|&c| !eq(lit, c)) {
                            *star_t += 1;
                        }
                    }
                    p = *star_p;
                    t = *star_t;
                }
                _ => return false,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn literal_and_wildcards() {
        assert!(matches("iam:PutUserPolicy", "iam:PutUserPolicy"));
        assert!(!matches("iam:PutUserPolicy", "iam:putuserpolicy"));
        assert!(matches_ignore_ascii_case("iam:Put*", "IAM:putuserpolicy"));
        assert!(matches(
            "arn:aws:iam::1:user/*",
            "arn:aws:iam::1:user/a/b/c"
        ));
        assert!(matches("a?c", "abc"));
        assert!(!matches("a?c", "ac"));
        assert!(matches("*", ""));
        assert!(!matches("", "x"));
        assert!(matches("*a*b*", "xxaxxbxx"));
        assert!(!matches("*a*b", "xxaxxbxxc"));
        assert!(matches("é*", "éà"));
    }

    fn oracle(pattern: &str, text: &str) -> bool {
        let mut re = String::from("(?s)^");
        for c in pattern.chars() {
            match c {
                '*' => re.push_str(".*"),
                '?' => re.push('.'),
                c => re.push_str(&regex::escape(&c.to_string())),
            }
        }
        re.push('$');
        regex::Regex::new(&re).unwrap().is_match(text)
    }

    #[test]
    fn escapes_are_literals() {
        assert_eq!(escape_literal("reports/*"), "reports/${*}");
        assert_eq!(escape_literal("a?$b"), "a${?}${$}b");
        assert!(matches_policy(
            "arn:aws:s3:::b/reports/${*}",
            "arn:aws:s3:::b/reports/*"
        ));
        assert!(!matches_policy(
            "arn:aws:s3:::b/reports/${*}",
            "arn:aws:s3:::b/reports/x"
        ));
        assert!(!matches_policy(
            "arn:aws:s3:::b/reports/${*}",
            "arn:aws:s3:::b/reports/"
        ));
        assert!(matches_policy("a${?}*", "a?xyz"));
        assert!(!matches_policy("a${?}*", "abxyz"));
        assert!(matches_policy("${$}{x}", "${x}"));
        assert!(matches_policy("a*", "abc"), "plain patterns as `matches`");
        assert_eq!(unescape_literal("a${*}${?}${$}b"), "a*?$b");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        // INVARIANT (escape-is-exact): an escaped literal matches itself and nothing else.
        #[test]
        fn an_escaped_literal_matches_only_itself(s in "[ab*?${}/]{0,8}", other in "[ab*?${}/]{0,8}") {
            let p = escape_literal(&s);
            prop_assert!(matches_policy(&p, &s));
            prop_assert_eq!(matches_policy(&p, &other), s == other);
            prop_assert_eq!(unescape_literal(&p), s);
        }

        // Copying the runs between special characters whole escapes as the earlier definition,
        // a character at a time, did.
        #[test]
        fn escaping_agrees_with_the_character_loop(s in "[ab*?${}/é]{0,12}") {
            let mut one_by_one = String::new();
            for c in s.chars() {
                match c {
                    '*' | '?' | '$' => {
                        one_by_one.push_str("${");
                        one_by_one.push(c);
                        one_by_one.push('}');
                    }
                    c => one_by_one.push(c),
                }
            }
            prop_assert_eq!(escape_literal(&s), one_by_one);
        }

        // Escaped prefixes with a real trailing wildcard keep the wildcard's meaning.
        #[test]
        fn an_escaped_prefix_and_a_wildcard(s in "[ab*?$]{0,6}", rest in "[ab*?$]{0,4}") {
            let p = format!("{}*", escape_literal(&s));
            let text = format!("{s}{rest}");
            prop_assert!(matches_policy(&p, &text), "{} {}", p, text);
        }

        #[test]
        fn agrees_with_regex_oracle(pattern in "[ab*?/é]{0,8}", text in "[ab/é]{0,10}") {
            prop_assert_eq!(matches(&pattern, &text), oracle(&pattern, &text));
        }

        #[test]
        fn ignoring_case_agrees_with_regex_oracle(pattern in "[aAbB*?/é]{0,8}", text in "[aAbB/é]{0,10}") {
            let folded = oracle(&pattern.to_ascii_lowercase(), &text.to_ascii_lowercase());
            prop_assert_eq!(matches_ignore_ascii_case(&pattern, &text), folded);
        }

        // INVARIANT (prefix-shortcut): stopping at the first byte the literal prefix differs
        // answers as scanning the whole pattern for wildcards first (the earlier definition).
        #[test]
        fn literal_prefix_shortcut_agrees_with_the_full_match(pattern in "[abAé]{0,4}[*?]?[abAé]{0,3}", text in "[abAé]{0,7}") {
            let exact = if has_wildcard(&pattern) { match_impl(&pattern, &text, |a, b| a == b) } else { pattern == text };
            prop_assert_eq!(matches(&pattern, &text), exact);
            let folded = if has_wildcard(&pattern) {
                match_impl(&pattern, &text, |a, b| a.eq_ignore_ascii_case(&b))
            } else {
                pattern.eq_ignore_ascii_case(&text)
            };
            prop_assert_eq!(matches_ignore_ascii_case(&pattern, &text), folded);
        }

        // INVARIANT (stars-in-one-pass): a pattern with `*` alone matches as the backtracking
        // match (the earlier definition) does.
        #[test]
        fn star_runs_agree_with_the_backtracking_match(pattern in "[ab:é*]{0,10}", text in "[ab:é]{0,12}") {
            prop_assert_eq!(matches(&pattern, &text), match_impl(&pattern, &text, |a, b| a == b));
        }

        #[test]
        fn star_runs_agree_on_arns(pattern in "arn:(\\*|aws):(iam|\\*)::(\\*|1):(user|role)/[a-c*/]{0,6}", text in "arn:aws:iam::1:(user|role)/[a-c/]{0,8}") {
            prop_assert_eq!(matches(&pattern, &text), match_impl(&pattern, &text, |a, b| a == b));
            prop_assert_eq!(matches(&pattern, &text), oracle(&pattern, &text));
        }

        #[test]
        fn agrees_with_regex_oracle_on_arns(pattern in "arn:aws:iam::1:(user|role)/[a-c*?/]{0,6}", text in "arn:aws:iam::1:(user|role)/[a-c/]{0,8}") {
            prop_assert_eq!(matches(&pattern, &text), oracle(&pattern, &text));
        }
    }
}
