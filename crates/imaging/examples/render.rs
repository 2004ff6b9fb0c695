//! Writes a few generated assets, a composite and a split screen to a folder,
//! to look at: `cargo run -p reviewdesk-imaging --example render -- /tmp/out`.

use reviewdesk_imaging::{
    AssetSpec, ImageKind, composite, encode_png, generate_asset, split_screen,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "render-out".into());
    std::fs::create_dir_all(&dir)?;
    let spec = |name, kind, prompt| AssetSpec {
        name,
        kind,
        prompt,
        version: 1,
    };
    let specs = [
        spec("Captain Mara", ImageKind::Character, "a weathered sailor"),
        spec("Young Pip", ImageKind::Character, "a cheeky cabin boy"),
        spec("Old Harbour Docks", ImageKind::Environment, "docks at dawn"),
        spec(
            "Storm Valley",
            ImageKind::Environment,
            "a valley under storm clouds",
        ),
        spec("Brass Lantern", ImageKind::Prop, "an old brass lantern"),
        spec("Sea Chest", ImageKind::Prop, "a sea chest"),
        spec("Magic Gem", ImageKind::Prop, "a glowing gem"),
    ];
    let mut images = Vec::new();
    for s in &specs {
        let img = generate_asset(s);
        std::fs::write(
            format!("{dir}/{}.png", s.name.replace(' ', "_")),
            encode_png(&img)?,
        )?;
        images.push(img);
    }
    std::fs::write(
        format!("{dir}/composite.png"),
        encode_png(&composite(&images[0], &images[2]))?,
    )?;
    std::fs::write(
        format!("{dir}/split.png"),
        encode_png(&split_screen(&images[0], &images[1], &images[3]))?,
    )?;
    println!("wrote {} files to {dir}", specs.len() + 2);
    Ok(())
}
