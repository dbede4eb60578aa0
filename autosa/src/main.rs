fn main() -> anyhow::Result<()> {
    autosa::cli::main()
}
