fn main() {
    println!("{:?}", forkmon::config::parse_delay("x", "10"));
}
