/// Counts keys by backlog length so that the largest backlog is known in O(1) as backlogs grow
/// and shrink by one, without scanning the keys.
@usableFromInline
struct BacklogHistogram {
    /// `keysWithBacklog[n]` is how many keys have exactly `n` waiting events (index 0 unused).
    @usableFromInline var keysWithBacklog: [Int] = [0]
    @usableFromInline var largest = 0

    @inlinable init() {}

    /// A key's backlog went from `length - 1` to `length`.
    @inlinable
    mutating func grew(to length: Int) {
        if length > 1 { keysWithBacklog[length - 1] -= 1 }
        if length == keysWithBacklog.count { keysWithBacklog.append(0) }
        keysWithBacklog[length] += 1
        if length > largest { largest = length }
    }

    /// A key's backlog went from `length + 1` to `length`.
    @inlinable
    mutating func shrank(to length: Int) {
        let previous = length + 1
        keysWithBacklog[previous] -= 1
        if length > 0 { keysWithBacklog[length] += 1 }
        // The key that shrank now has `length` waiting, so when no key is left at `previous`
        // the largest is exactly `length`.
        if previous == largest && keysWithBacklog[previous] == 0 { largest = length }
    }
}
