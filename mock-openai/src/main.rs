//! `mock-openai`: the server as a standalone binary.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use mock_openai::{MockConfig, StartError};

/// An OpenAI-compatible server with realistic latency, rate limits and faults.
///
/// With MOCK_OPENAI_ADMIN_TOKEN set (non-empty), GET and PUT /admin/config require
/// `Authorization: Bearer <that token>`.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// TOML config file (see --example-config); default: the built-in OpenAI-like setup.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on; port 0 picks a free port (the bound address is printed).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Print a commented example config and exit.
    #[arg(long)]
    example_config: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "mock_openai=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    if args.example_config {
        print!("{}", mock_openai::EXAMPLE_CONFIG);
        return ExitCode::SUCCESS;
    }
    let config = match &args.config {
        Some(path) => MockConfig::from_toml_file(path),
        None => Ok(MockConfig::default()),
    };
    let config = match config {
        Ok(config) => config,
        Err(e) => {
            eprintln!("mock-openai: {e}");
            return ExitCode::from(2);
        }
    };
    let announce = |server: &mock_openai::MockHandle| {
        println!("mock-openai listening on http://{}", server.addr());
    };
    match mock_openai::serve_until_signal(config, args.listen, announce).await {
        Ok(()) => ExitCode::SUCCESS,
        // What was asked for is wrong, as with a bad config file.
        Err(e @ (StartError::Config(_) | StartError::AdminToken(_))) => {
            eprintln!("mock-openai: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("mock-openai: {e}");
            ExitCode::from(1)
        }
    }
}
