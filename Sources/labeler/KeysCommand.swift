import ArgumentParser
struct KeysCommand: ParsableCommand { }
