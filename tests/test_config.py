"""Config: documented defaults (the paper's Fig. 5), TOML round trip, clear errors."""
import pytest

from exsampling import config
from exsampling.mapping import DEFAULT_MAPPING, LABELS, invert

FIG5 = {
    "Bass": ["Bark", "Burping_or_eructation", "Bus", "Cello", "Double_bass", "Microwave_oven"],
    "BD": ["Bass_drum", "Drawer_open_or_close", "Fart", "Gunshot_or_gunfire"],
    "Chorus": ["Applause", "Laughter", "Meow", "Squeak"],
    "HH": ["Computer_keyboard", "Finger_snapping", "Hi-hat", "Keys_jangling", "Scissors", "Writing"],
    "Piano": ["Acoustic_guitar", "Electric_piano", "Harmonica", "Telephone", "Violin_or_fiddle"],
    "Snare": ["Cough", "Fireworks", "Knock", "Shatter", "Snare_drum", "Tambourine", "Tearing"],
    "T": ["Chime", "Glockenspiel", "Gong"],
    "TT": ["Cowbell"],
    "Wind": ["Clarinet", "Flute", "Oboe", "Saxophone", "Trumpet"],
}


def test_defaults_are_the_papers_fig5():
    cfg = config.load()
    assert len(LABELS) == 41 and set(cfg.mapping) == set(LABELS)
    assert invert(cfg.mapping) == FIG5
    assert cfg.melodic["Piano"] and cfg.melodic["Wind"] and not cfg.melodic["Snare"] and not cfg.melodic["HH"]
    assert (cfg.osc.host, cfg.osc.port) == ("127.0.0.1", 7400)
    assert (cfg.osc.listen_port, cfg.osc.reply_host, cfg.osc.sample_root) == (7401, "", "")
    assert (cfg.audio.segment_s, cfg.audio.trim_top_db) == (5.0, 20.0)


def test_round_trip_through_toml(tmp_path):
    path = tmp_path / "show.toml"
    cfg = config.load().with_changes(osc={"port": 9000}, mapping={**DEFAULT_MAPPING, "Bark": "Snare"})
    config.save(cfg, path)
    again = config.load(path)
    assert again.osc.port == 9000 and again.mapping["Bark"] == "Snare" and again.source == path


def test_partial_file_keeps_defaults_and_resolves_paths_next_to_it(tmp_path):
    path = tmp_path / "show.toml"
    path.write_text('[osc]\nport = 7500\n[library]\npath = "lib"\n[mapping]\nMeow = "Piano"\n'
                    '[instruments]\nChorus = "percussive"\n')
    cfg = config.load(path)
    assert cfg.osc.port == 7500 and cfg.osc.host == "127.0.0.1"
    assert cfg.resolve(cfg.library.path) == tmp_path / "lib"
    assert cfg.mapping["Meow"] == "Piano" and cfg.mapping["Bark"] == "Bass" and not cfg.melodic["Chorus"]


@pytest.mark.parametrize("text,message", [
    ("[osc]\nport = 70000\n", "not a UDP port"),
    ("[osc]\nport = \"x\"\n", "should be a int"),
    ("[oscc]\nport = 1\n", "unknown section"),
    ("[osc]\nprot = 1\n", "unknown key"),
    ("[osc]\nlisten_port = 70000\n", "listen_port 70000 is not a UDP port"),
    ("[osc]\nlisten_port = 7400\n", "must differ from osc.port"),
    ("[osc]\nreply_host = \"my laptop\"\n", "is not a host"),
    ("[mapping]\nBarking = \"Bass\"\n", "unknown label"),
    ("[mapping]\nBark = \"Bass drum\"\n", "not allowed"),
    ("[mapping]\nBark = \"Kazoo\"\n", "no melodic/percussive"),
    ("[instruments]\nKazoo = \"loud\"\n", "melodic"),
    ("[show]\nmode = \"wild\"\n", "auto"),
    ("not toml = = =", "not valid TOML"),
])
def test_bad_values_are_named(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(config.ConfigError, match=message):
        config.load(path)


def test_missing_file(tmp_path):
    with pytest.raises(config.ConfigError, match="does not exist"):
        config.load(tmp_path / "nope.toml")
