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
    ("[osc]\nport = 70000\n", "osc.port = 70000: must be a UDP port, 1-65535"),
    ("[osc]\nport = \"x\"\n", 'osc.port = "x": must be an integer'),
    ("[server]\ntls = 1\n", "server.tls = 1: must be true or false"),
    ("[oscc]\nport = 1\n", "[oscc]: unknown section; the sections are ['audio', "),
    ("[osc]\nprot = 1\n", "osc.prot: unknown key; the keys of [osc] are ['host', "),
    ("osc = 1\n", "osc = 1: must be a table"),
    ("[osc]\nlisten_port = 70000\n", "osc.listen_port = 70000: must be a UDP port, 1-65535, or 0 (any)"),
    ("[osc]\nlisten_port = 7400\n", "osc.listen_port = 7400: must differ from osc.port (7400), where the stage"),
    ("[osc]\nreply_host = \"my laptop\"\n", 'osc.reply_host = "my laptop": must be a host name or address'),
    ("[osc]\nstage_hosts = [\"a b\", \"c\"]\n", 'osc.stage_hosts = ["a b", "c"]: must be host names'),
    ("[audio]\nsample_rate = 4000\n", "audio.sample_rate = 4000: must be at least 8000 (Hz)"),
    ("[audio]\nsegment_s = inf\n", "audio.segment_s = inf: must be at least 0.5 and finite (s)"),
    ("[audio]\nmin_tail_s = 6\n", "audio.min_tail_s = 6.0: must be > 0 and at most audio.segment_s (5.0 s)"),
    ("[features]\nfmax_hz = 20000\n", "features.fmax_hz = 20000.0: must be at most half audio.sample_rate (11025.0"),
    ("[pitch]\nfmin_hz = 5000\n", "pitch.fmin_hz = 5000.0: must be > 0 and below pitch.fmax_hz (4400.0 Hz)"),
    ("[server]\ndisk_reserve_mb = nan\n", "server.disk_reserve_mb = nan: must be >= 0 and finite (MiB)"),
    ("[mapping]\nBarking = \"Bass\"\n", 'mapping.Barking = "Bass": unknown label \'Barking\''),
    ("[mapping]\nBark = \"Bass drum\"\n", 'mapping.Bark = "Bass drum": instrument name \'Bass drum\' is not allowed'),
    ("[mapping]\n\"Bass drum\" = 3\n", 'mapping."Bass drum" = 3: must be an instrument name (a string)'),
    ("mapping = [\"Bark\"]\n", 'mapping = ["Bark"]: must be a table'),
    ("[instruments]\nKazoo = \"loud\"\n", 'instruments.Kazoo = "loud": must be "melodic" or "percussive"'),
    ("[show]\nmode = \"wild\"\n", 'show.mode = "wild": must be one of "auto", "preview"'),
])
def test_a_bad_value_is_named_quoted_and_what_is_allowed_said(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(config.ConfigError) as raised:
        config.load(path)
    assert str(raised.value).startswith(message)


def test_a_live_change_out_of_range_is_named_and_quoted():
    with pytest.raises(config.ConfigError) as raised:
        config.load().with_changes(classifier={"unsure_below": 1.5})
    assert str(raised.value) == "classifier.unsure_below = 1.5: must be in [0, 1]"


def test_a_file_that_is_not_toml_is_named(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("not toml = = =")
    with pytest.raises(config.ConfigError, match=f"config file {path} is not valid TOML"):
        config.load(path)


def test_missing_file(tmp_path):
    with pytest.raises(config.ConfigError, match="does not exist"):
        config.load(tmp_path / "nope.toml")


def test_a_new_track_in_the_file_starts_percussive_as_in_live_coding(tmp_path):
    path = tmp_path / "show.toml"
    path.write_text('[mapping]\nBark = "Kazoo"\nCough = "Metal"\n[instruments]\nMetal = "melodic"\n')
    cfg = config.load(path)
    assert cfg.mapping["Bark"] == "Kazoo" and cfg.melodic["Kazoo"] is False and cfg.melodic["Metal"] is True


HAND_WRITTEN = """# tonight's show: barks on the snare
[osc]
host = "127.0.0.1"   # Live on this laptop

[show]
mode = "preview"

[mapping]
Bark = "Snare"  # the dog is a drum
Meow = "Lead"
"""


def test_a_mapping_edit_keeps_the_file_as_written(tmp_path):
    path = tmp_path / "show.toml"
    path.write_text(HAND_WRITTEN)
    cfg = config.load(path)
    mapping = cfg.mapping | {"Meow": "Piano", "Cough": "Metal"}
    config.save_mapping(path, mapping, cfg.melodic | {"Metal": False, "HH": True}, cfg)
    text = path.read_text()
    assert text.splitlines()[:8] == HAND_WRITTEN.splitlines()[:8]  # comments, order and spacing kept
    assert 'Bark = "Snare"  # the dog is a drum' in text and 'Meow = "Piano"' in text and "Lead" not in text
    assert 'Cough = "Metal"' in text and 'HH = "melodic"' in text and "Metal = " not in text  # new: percussive
    assert len(text.splitlines()) == len(HAND_WRITTEN.splitlines()) + 4  # Cough, [instruments], HH, a blank
    assert "model" not in text and "[audio]" not in text  # never the defaults, never an install path
    again = config.load(path)
    assert again.mapping == mapping and again.melodic["HH"] and again.show.mode == "preview"


def test_a_mapping_edit_makes_a_new_file_of_just_the_edit(tmp_path):
    path = tmp_path / "new" / "show.toml"
    running = config.load().with_changes(osc={"port": 9000})
    config.save_mapping(path, running.mapping | {"Bark": "Snare"}, running.melodic, running)
    assert config.tomllib.loads(path.read_text()) == {"osc": {"port": 9000}, "mapping": {"Bark": "Snare"}}


def test_a_mapping_edit_never_overwrites_a_broken_file(tmp_path):
    path = tmp_path / "show.toml"
    path.write_text("[mapping]\nBark = 'Sna\n")
    with pytest.raises(config.ConfigError, match="not valid TOML"):
        config.save_mapping(path, dict(DEFAULT_MAPPING), config.load().melodic)
    assert path.read_text() == "[mapping]\nBark = 'Sna\n"
