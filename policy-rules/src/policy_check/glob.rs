//! Deciding questions about IAM wildcard patterns as sets of strings, not one string at a time:
//! whether every string one pattern matches is matched by one of several others (inclusion), and
//! whether two patterns match a string in common (intersection). Both are decided exactly, by
//! walking the two patterns' automata together over a finite alphabet (the characters the patterns
//! name, one character standing for all others, and the atoms), with a budget on the states
//! explored: past it the answer is "cannot tell" (`None`), never a guess.
//!
//! An *atom* stands for a value that is not known but is the same wherever it appears, and
//! contains no wildcard: a CloudFormation pseudo parameter or resource reference, or a policy
//! variable (`${aws:username}`). An atom is matched only by the same atom, or absorbed by `*`;
//! never by `?` (its length is not known) nor by literal characters. That is what makes an
//! inclusion proven over atoms hold for every value they may take.
//!
//! This file owns pattern sets only; what the patterns mean is the check's business.

use std::collections::{BTreeSet, VecDeque};

/// Characters Warden uses for CloudFormation atoms (Unicode's private use area). Inputs holding
/// them are refused before they get here (see `sets`).
pub(crate) const ATOM_CHARS: std::ops::RangeInclusive<char> = '\u{E000}'..='\u{F8FF}';

/// States a question may explore before the answer is "cannot tell".
const BUDGET: usize = 20_000;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Tok {
    Any,
    One,
    Lit(char),
    Atom(String),
}

/// A letter of the alphabet a question walks over.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Letter {
    Char(char),
    /// Any character no pattern of the question names.
    Other,
    Atom(String),
}

/// A pattern as tokens: `*`, `?`, literal characters (with IAM's `${*}`, `${?}`, `${$}` escapes
/// read as literals), and atoms (CloudFormation atom characters and policy variables). With
/// `fold_case`, letters are compared ignoring ASCII case (actions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern {
    toks: Vec<Tok>,
}

impl Pattern {
    pub(crate) fn new(text: &str, fold_case: bool) -> Self {
        let mut toks = Vec::with_capacity(text.len());
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            if let Some(e) = ["${*}", "${?}", "${$}"]
                .into_iter()
                .find(|e| rest.starts_with(e))
            {
                toks.extend(e.chars().nth(2).map(Tok::Lit));
                rest = rest.get(e.len()..).unwrap_or("");
                continue;
            }
            if rest.starts_with("${") {
                if let Some(end) = rest.find('}') {
                    // The variable's name matches ignoring case; its default as written.
                    let inner = rest.get(2..end).unwrap_or("");
                    let (name, default) = inner.split_once(',').unwrap_or((inner, ""));
                    toks.push(Tok::Atom(format!(
                        "var:{}{}",
                        name.trim().to_ascii_lowercase(),
                        if default.is_empty() {
                            String::new()
                        } else {
                            format!(",{}", default.trim())
                        }
                    )));
                    rest = rest.get(end + 1..).unwrap_or("");
                    continue;
                }
            }
            toks.push(match c {
                '*' => Tok::Any,
                '?' => Tok::One,
                c if ATOM_CHARS.contains(&c) => Tok::Atom(c.to_string()),
                c if fold_case => Tok::Lit(c.to_ascii_lowercase()),
                c => Tok::Lit(c),
            });
            rest = rest.get(c.len_utf8()..).unwrap_or("");
        }
        // `**` is `*`: fewer states to walk.
        toks.dedup_by(|a, b| *a == Tok::Any && *b == Tok::Any);
        Pattern { toks }
    }

    /// The same pattern with every atom widened to `*` (what it matches for some value of each).
    pub(crate) fn widened(&self) -> Self {
        let mut toks: Vec<Tok> = self
            .toks
            .iter()
            .map(|t| match t {
                Tok::Atom(_) => Tok::Any,
                t => t.clone(),
            })
            .collect();
        toks.dedup_by(|a, b| *a == Tok::Any && *b == Tok::Any);
        Pattern { toks }
    }

    fn letters(&self, out: &mut BTreeSet<Letter>) {
        for t in &self.toks {
            match t {
                Tok::Lit(c) => {
                    out.insert(Letter::Char(*c));
                }
                Tok::Atom(a) => {
                    out.insert(Letter::Atom(a.clone()));
                }
                Tok::Any | Tok::One => {}
            }
        }
    }

    /// The states reachable from `states` without reading (a `*` may match nothing).
    fn close(&self, states: &mut BTreeSet<usize>) {
        let mut todo: Vec<usize> = states.iter().copied().collect();
        while let Some(s) = todo.pop() {
            if self.toks.get(s) == Some(&Tok::Any) && states.insert(s + 1) {
                todo.push(s + 1);
            }
        }
    }

    /// The states after reading `letter`. `star_takes_atoms`: whether `*` may absorb an atom (it
    /// may in the patterns that must match; a covered pattern's own `*` matches characters).
    fn step(
        &self,
        states: &BTreeSet<usize>,
        letter: &Letter,
        star_takes_atoms: bool,
    ) -> BTreeSet<usize> {
        let mut next = BTreeSet::new();
        for &s in states {
            match (self.toks.get(s), letter) {
                (Some(Tok::Any), Letter::Atom(_)) if !star_takes_atoms => {}
                (Some(Tok::Any), _) => {
                    next.insert(s);
                }
                (Some(Tok::One), Letter::Char(_) | Letter::Other) => {
                    next.insert(s + 1);
                }
                (Some(Tok::Lit(c)), Letter::Char(l)) if c == l => {
                    next.insert(s + 1);
                }
                (Some(Tok::Atom(a)), Letter::Atom(l)) if a == l => {
                    next.insert(s + 1);
                }
                _ => {}
            }
        }
        self.close(&mut next);
        next
    }

    fn start(&self) -> BTreeSet<usize> {
        let mut s = BTreeSet::from([0]);
        self.close(&mut s);
        s
    }

    fn accepts(&self, states: &BTreeSet<usize>) -> bool {
        states.contains(&self.toks.len())
    }
}

/// A string for a walk's letters: `other` for the character no pattern names, atoms by `atom`.
fn spell(letters: &[Letter], other: char, atom: &dyn Fn(&str) -> String) -> String {
    let mut s = String::new();
    for l in letters {
        match l {
            Letter::Char(c) => s.push(*c),
            Letter::Other => s.push(other),
            Letter::Atom(a) => s.push_str(&atom(a)),
        }
    }
    s
}

/// A character none of `letters` is, for `Letter::Other`.
fn other_char(letters: &BTreeSet<Letter>) -> char {
    ['x', 'y', 'z', 'q', '0', '1', '-', '_']
        .into_iter()
        .find(|c| !letters.contains(&Letter::Char(*c)))
        .unwrap_or('\u{2603}')
}

/// Whether every string `new` matches is matched by one of `olds`: `Some(None)` when it is,
/// `Some(Some(w))` with a string `w` that `new` matches and none of `olds` does (atoms spelt by
/// `atom`), `None` when the budget ran out.
pub(crate) fn uncovered(
    new: &Pattern,
    olds: &[&Pattern],
    atom: &dyn Fn(&str) -> String,
) -> Option<Option<String>> {
    let mut alphabet = BTreeSet::new();
    new.letters(&mut alphabet);
    for o in olds {
        o.letters(&mut alphabet);
    }
    let other = other_char(&alphabet);
    alphabet.insert(Letter::Other);
    // A state: one state of `new`, and the set of states of every old pattern (deterministic).
    type State = (usize, Vec<BTreeSet<usize>>);
    let start: State = (0, olds.iter().map(|o| o.start()).collect());
    let mut seen: BTreeSet<State> = BTreeSet::new();
    let mut queue: VecDeque<(State, Vec<Letter>)> = VecDeque::new();
    // `new` starts in state 0 and its closure.
    let mut first = BTreeSet::from([0]);
    new.close(&mut first);
    for n in first {
        let s = (n, start.1.clone());
        if seen.insert(s.clone()) {
            queue.push_back((s, Vec::new()));
        }
    }
    while let Some(((n, old_states), word)) = queue.pop_front() {
        if seen.len() > BUDGET {
            return None;
        }
        if n == new.toks.len() && !olds.iter().zip(&old_states).any(|(o, s)| o.accepts(s)) {
            return Some(Some(spell(&word, other, atom)));
        }
        for letter in &alphabet {
            // `new`'s own wildcards match characters, never atoms (an atom is a whole value).
            let next_new = new.step(&BTreeSet::from([n]), letter, false);
            if next_new.is_empty() {
                continue;
            }
            let next_old: Vec<BTreeSet<usize>> = olds
                .iter()
                .zip(&old_states)
                .map(|(o, s)| o.step(s, letter, true))
                .collect();
            for m in next_new {
                let s = (m, next_old.clone());
                if seen.insert(s.clone()) {
                    let mut w = word.clone();
                    w.push(letter.clone());
                    queue.push_back((s, w));
                }
            }
        }
    }
    Some(None)
}

/// Whether some string matches both `a` and `b` (atoms must be widened first: an atom is a value
/// not known, so two patterns "meet" if they may for some value). `None`: the budget ran out.
pub(crate) fn meet(a: &Pattern, b: &Pattern) -> Option<bool> {
    let mut alphabet = BTreeSet::new();
    a.letters(&mut alphabet);
    b.letters(&mut alphabet);
    alphabet.insert(Letter::Other);
    let start = (a.start(), b.start());
    let mut seen = BTreeSet::from([start.clone()]);
    let mut queue = VecDeque::from([start]);
    while let Some((sa, sb)) = queue.pop_front() {
        if seen.len() > BUDGET {
            return None;
        }
        if a.accepts(&sa) && b.accepts(&sb) {
            return Some(true);
        }
        for letter in &alphabet {
            let na = a.step(&sa, letter, true);
            let nb = b.step(&sb, letter, true);
            if na.is_empty() || nb.is_empty() {
                continue;
            }
            let s = (na, nb);
            if seen.insert(s.clone()) {
                queue.push_back(s);
            }
        }
    }
    Some(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wildcard;

    fn p(s: &str) -> Pattern {
        Pattern::new(s, false)
    }

    fn covered(new: &str, olds: &[&str]) -> bool {
        let olds: Vec<Pattern> = olds.iter().map(|o| p(o)).collect();
        let refs: Vec<&Pattern> = olds.iter().collect();
        uncovered(&p(new), &refs, &|a| format!("<{a}>"))
            .unwrap()
            .is_none()
    }

    #[test]
    fn inclusion() {
        assert!(covered("a", &["a"]));
        assert!(covered("a", &["*"]));
        assert!(covered("ab*", &["a*"]));
        assert!(!covered("a*", &["ab*"]));
        assert!(covered("a?c", &["a*c"]));
        assert!(!covered("a*c", &["a?c"]));
        assert!(covered("*", &["*", "x"]));
        // Together but not alone: `a*` is `a` followed by `b…` or by anything else.
        assert!(covered("a*", &["a", "ab*", "a?*"]));
        assert!(!covered("a*", &["ab*", "a?*"]));
        assert!(covered("s3:Get*", &["s3:*"]));
        assert!(!covered("s3:*", &["s3:Get*", "s3:Put*"]));
        // Escapes are literals.
        assert!(!covered("a${*}", &["a?b"]));
        assert!(covered("a${*}", &["a?"]));
        assert!(!covered("a*", &["a${*}"]));
    }

    #[test]
    fn atoms_are_matched_by_themselves_or_absorbed_by_star() {
        let acct = "\u{E000}";
        assert!(covered(
            &format!("arn:{acct}:x"),
            &[&format!("arn:{acct}:*")]
        ));
        assert!(covered(&format!("arn:{acct}:x"), &["arn:*:x"]));
        assert!(!covered(&format!("arn:{acct}:x"), &["arn:?:x"]));
        assert!(!covered(&format!("arn:{acct}:x"), &["arn:1:x"]));
        assert!(!covered("arn:1:x", &[&format!("arn:{acct}:x")]));
        assert!(covered("u/${aws:username}", &["u/*"]));
        assert!(covered("u/${aws:username}", &["u/${AWS:UserName}"]));
        assert!(!covered("u/*", &["u/${aws:username}"]));
    }

    #[test]
    fn the_witness_is_matched_by_new_and_by_no_old() {
        for (new, olds) in [
            ("a*", vec!["ab*", "a?*"]),
            ("arn:aws:s3:::*", vec!["arn:aws:s3:::b/*"]),
            ("x?y*z", vec!["x*yz", "xay*"]),
        ] {
            let ps: Vec<Pattern> = olds.iter().map(|o| p(o)).collect();
            let refs: Vec<&Pattern> = ps.iter().collect();
            let w = uncovered(&p(new), &refs, &|a| a.to_owned())
                .unwrap()
                .unwrap();
            assert!(wildcard::matches_policy(new, &w), "{new} {w}");
            for o in olds {
                assert!(!wildcard::matches_policy(o, &w), "{o} {w}");
            }
        }
    }

    #[test]
    fn intersection() {
        assert_eq!(meet(&p("a*"), &p("*b")), Some(true));
        assert_eq!(meet(&p("a*"), &p("b*")), Some(false));
        assert_eq!(meet(&p("a?"), &p("a")), Some(false));
        assert_eq!(meet(&p("s3:Get*"), &p("s3:GetObject")), Some(true));
        let f = Pattern::new("S3:GETOBJECT", true);
        assert_eq!(meet(&f, &Pattern::new("s3:get*", true)), Some(true));
        assert_eq!(
            meet(&p("arn:\u{E000}:x").widened(), &p("arn:aws:x")),
            Some(true)
        );
    }
}
