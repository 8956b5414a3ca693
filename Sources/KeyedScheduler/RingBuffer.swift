/// A growable FIFO over a power-of-two circular buffer: amortised O(1) `append` and
/// `popFirst`, O(1) access by position from the front.
///
/// The scheduler keeps its queues (ready keys, the low-water-mark window, suspended
/// submitters, hand-offs to workers) in one of these, so that nothing on the hot path shifts
/// elements the way `Array.removeFirst` would.
@usableFromInline
struct RingBuffer<Element> {
    @usableFromInline var storage: ContiguousArray<Element?> = []
    @usableFromInline var head = 0
    @usableFromInline var count = 0

    @inlinable init() {}

    @inlinable var isEmpty: Bool { count == 0 }

    @inlinable var first: Element? { count == 0 ? nil : storage[head] }

    @inlinable var last: Element? { count == 0 ? nil : storage[physical(count - 1)] }

    /// The element `position` places from the front (0 is the first).
    @inlinable
    subscript(position: Int) -> Element {
        get {
            precondition(position >= 0 && position < count, "RingBuffer position out of range")
            return storage[physical(position)]!
        }
        set {
            precondition(position >= 0 && position < count, "RingBuffer position out of range")
            storage[physical(position)] = newValue
        }
    }

    @inlinable
    mutating func append(_ element: Element) {
        if count == storage.count { grow() }
        storage[physical(count)] = element
        count += 1
    }

    @inlinable
    @discardableResult
    mutating func popFirst() -> Element? {
        guard count > 0 else { return nil }
        let element = storage[head].take()
        head = (head + 1) & (storage.count - 1)
        count -= 1
        return element
    }

    /// Removes the element at `position`, moving the ones behind it forward: O(n), for rare
    /// events only (a suspended submitter cancelled).
    @inlinable
    @discardableResult
    mutating func remove(at position: Int) -> Element {
        let element = self[position]
        for index in position..<(count - 1) {
            storage[physical(index)] = storage[physical(index + 1)].take()
        }
        storage[physical(count - 1)] = nil
        count -= 1
        return element
    }

    /// The position of the first element matching `predicate`, from the front.
    @inlinable
    func firstPosition(where predicate: (Element) -> Bool) -> Int? {
        for position in 0..<count where predicate(storage[physical(position)]!) {
            return position
        }
        return nil
    }

    /// Empties the buffer, handing each element to `body` in FIFO order.
    @inlinable
    mutating func drain(_ body: (Element) -> Void) {
        while let element = popFirst() { body(element) }
    }

    @inlinable
    func physical(_ position: Int) -> Int {
        (head + position) & (storage.count - 1)
    }

    @inlinable
    mutating func grow() {
        let newCapacity = Swift.max(16, storage.count * 2)
        var newStorage = ContiguousArray<Element?>(repeating: nil, count: newCapacity)
        for position in 0..<count {
            newStorage[position] = storage[physical(position)].take()
        }
        storage = newStorage
        head = 0
    }
}
