//! `deskrun up`, `down` and `remove`: the engine's operations, with their progress on
//! stderr and, for `up`, a question before the cluster is recreated.

use std::io::IsTerminal;

use deskrun::config::ConfigStore;
use deskrun::operations::{self, UpOptions};
use deskrun::secrets::SecretStore;

use super::output::show;

pub async fn up(recreate_cluster: bool) -> anyhow::Result<()> {
    let store = ConfigStore::from_env()?;
    let secrets = SecretStore::from_env();
    let options = UpOptions { recreate_cluster };
    match operations::up(&store, &secrets, options, &show).await {
        Err(error @ operations::Error::RecreateNeeded { .. }) => {
            eprintln!("{error}");
            if !confirm("Recreate the cluster now?").await? {
                anyhow::bail!(
                    "cluster not recreated; run `deskrun up --recreate-cluster` when ready"
                );
            }
            let options = UpOptions { recreate_cluster: true };
            operations::up(&store, &secrets, options, &show).await?;
        }
        other => {
            other?;
        }
    }
    Ok(())
}

pub async fn down() -> anyhow::Result<()> {
    operations::down(&ConfigStore::from_env()?, &SecretStore::from_env(), &show).await?;
    Ok(())
}

pub async fn remove(name: &str) -> anyhow::Result<()> {
    operations::remove(&ConfigStore::from_env()?, &SecretStore::from_env(), name, &show).await?;
    Ok(())
}

/// Asks `question` on the terminal; no terminal is a no. The read runs off the async
/// threads, so Ctrl-C still interrupts while the question waits.
async fn confirm(question: &str) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        return Ok(false);
    }
    eprint!("{question} [y/N] ");
    let answer = tokio::task::spawn_blocking(|| {
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer).map(|_| answer)
    })
    .await??;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}
