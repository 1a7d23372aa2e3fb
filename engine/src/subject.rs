//! Subject validation and matching (STUB: API fixed, bodies to be written).

/// Valid subscription subject: non-empty tokens separated by `.`, no whitespace, `*` and
/// `>` only as whole tokens, `>` only last.
pub fn is_valid_subject(subject: &[u8]) -> bool {
    let _ = subject;
    unimplemented!()
}

/// Valid subject with no wildcard tokens (what pedantic PUB requires).
pub fn is_valid_literal_subject(subject: &[u8]) -> bool {
    let _ = subject;
    unimplemented!()
}

/// Valid queue group name.
pub fn is_valid_queue(queue: &[u8]) -> bool {
    let _ = queue;
    unimplemented!()
}

/// Whether the literal `subject` matches `pattern` (which may hold wildcards).
pub fn matches(pattern: &[u8], subject: &[u8]) -> bool {
    let _ = (pattern, subject);
    unimplemented!()
}

/// Whether every subject matched by `subset` is also matched by `pattern`.
pub fn is_subset_match(subset: &[u8], pattern: &[u8]) -> bool {
    let _ = (subset, pattern);
    unimplemented!()
}
