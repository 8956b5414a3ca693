/// Bytes from the system's cryptographically secure generator (`SystemRandomNumberGenerator` reads
/// `getrandom`/`arc4random`, never a seeded PRNG).
enum SecureRandom {
    static func bytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }
}
