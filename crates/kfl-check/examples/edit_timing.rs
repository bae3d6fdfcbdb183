use std::time::Instant;
fn main() {
    let path = std::env::args().nth(1).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let mut db = kfl_check::Database::default();
    let file = db.set_file("big.kfl", text.clone());
    let t = Instant::now();
    let n = kfl_check::check_file(&db, file).len();
    println!("cold check {:?} ({n} diagnostics)", t.elapsed());
    let at = text.len() - text.len() / 20;
    let at = at + text[at..].find("1.5").unwrap() + 2;
    let mut parse_t = Vec::new();
    let mut check_t = Vec::new();
    let mut set_t = Vec::new();
    for i in 0..30 {
        let mut t2 = text.clone();
        t2.replace_range(at..at + 1, &((i % 9) + 1).to_string());
        let t = Instant::now();
        db.set_file("big.kfl", t2);
        set_t.push(t.elapsed());
        let t = Instant::now();
        let _ = kfl_check::parse(&db, file);
        parse_t.push(t.elapsed());
        let t = Instant::now();
        let n = kfl_check::check_file(&db, file).len();
        check_t.push(t.elapsed());
        assert_eq!(n, 0);
    }
    for (name, mut v) in [("set", set_t), ("parse", parse_t), ("check", check_t)] {
        v.sort();
        println!("{name}: min {:?} median {:?}", v[0], v[v.len() / 2]);
    }
}
