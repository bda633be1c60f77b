//! A game client on the SDK: registers (or logs in), queues, accepts the match and prints the
//! game server it was sent to.
//!
//! ```text
//! cargo run -p matchwright-transport --example client -- \
//!     --quic 127.0.0.1:4433 --fingerprint HEX --queue duel-1v1 --user ada
//! cargo run -p matchwright-transport --example client -- \
//!     --http http://127.0.0.1:8080 --queue duel-1v1 --user bob
//! ```
//! Run two (one over each transport) against `matchwright serve --quic 127.0.0.1:4433` and
//! they are matched together.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use matchwright_transport::Client;
use matchwright_transport::wire::Event;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|arg| arg == name)
        .and_then(|at| args.get(at + 1).cloned())
}

async fn run(args: Vec<String>) -> Result<(), Box<dyn std::error::Error>> {
    let client = match (arg(&args, "--quic"), arg(&args, "--http")) {
        (Some(addr), _) => {
            let fingerprint = arg(&args, "--fingerprint")
                .ok_or("--quic needs --fingerprint (matchwright serve prints it)")?;
            Client::connect_quic(addr.parse()?, &fingerprint).await?
        }
        (None, Some(base)) => Client::connect_http(&base).await?,
        (None, None) => return Err("give --quic ADDR --fingerprint HEX, or --http URL".into()),
    };
    let user = arg(&args, "--user").unwrap_or_else(|| "sdk-example".into());
    let password = "example-password";
    let tokens = match client.register(&user, password, None).await {
        Ok(tokens) => tokens,
        Err(error) if error.code() == Some("username_taken") => {
            client.login(&user, password).await?
        }
        Err(error) => return Err(error.into()),
    };
    println!(
        "{} player {} over {}",
        user,
        tokens.player_id,
        client.transport()
    );
    let queues = client.queues().await?;
    let queue = arg(&args, "--queue").unwrap_or_else(|| queues.queues[0].name.clone());
    let pings: Vec<(&str, u16)> = queues.regions.iter().map(|r| (r.as_str(), 40)).collect();
    let mut events = client.events()?;
    let status = client.enqueue(&queue, &pings).await?;
    println!("{}: {}", queue, status.status);
    while let Some(event) = events.next().await {
        match event? {
            Event::MatchFound {
                match_id,
                accept_by_ms: Some(_),
                state,
                ..
            } if state == "awaiting_acceptance" => {
                println!("match {match_id} found; accepting");
                client.accept(match_id).await?;
            }
            Event::SessionReady {
                match_id, server, ..
            } => {
                println!("match {match_id}: play on {server}");
                break;
            }
            other => println!("{other:?}"),
        }
    }
    client.close();
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    match run(std::env::args().skip(1).collect()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
