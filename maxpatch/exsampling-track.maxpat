{
	"patcher": {
		"fileversion": 1,
		"appversion": {
			"major": 8,
			"minor": 6,
			"revision": 2,
			"architecture": "x64",
			"modernui": 1
		},
		"classnamespace": "box",
		"rect": [
			60.0,
			60.0,
			2300.0,
			1250.0
		],
		"openinpresentation": 1,
		"default_fontsize": 12.0,
		"default_fontface": 0,
		"default_fontname": "Arial",
		"gridonopen": 1,
		"gridsize": [
			15.0,
			15.0
		],
		"gridsnaponopen": 1,
		"objectsnaponopen": 1,
		"statusbarvisible": 2,
		"toolbarvisible": 1,
		"boxanimatetime": 200,
		"enablehscroll": 1,
		"enablevscroll": 1,
		"devicewidth": 436.0,
		"description": "ExSampling track: plays the latest audience sample of its instrument from MIDI, and shows where it was recorded.",
		"digest": "",
		"tags": "",
		"style": "",
		"boxes": [
			{
				"box": {
					"id": "c-title",
					"maxclass": "comment",
					"numinlets": 1,
					"numoutlets": 0,
					"patching_rect": [
						30.0,
						10.0,
						900.0,
						36.0
					],
					"text": "ExSampling track: one per MIDI track. It follows the instrument chosen in its menu (the names the console announces) or typed in its box, kept with the Live set; the hub forwards the console's OSC on 'exsampling.osc' and sends the track's answers (loaded, played) back.",
					"linecount": 2
				}
			},
			{
				"box": {
					"id": "thisdevice",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 3,
					"outlettype": [
						"bang",
						"int",
						"int"
					],
					"patching_rect": [
						30.0,
						60.0,
						121.0,
						22.0
					],
					"text": "live.thisdevice"
				}
			},
			{
				"box": {
					"id": "instrument-t",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 8,
					"outlettype": [
						"",
						"",
						"",
						"",
						"",
						"",
						"",
						""
					],
					"patching_rect": [
						30.0,
						130.0,
						150.0,
						22.0
					],
					"text": "t s s s s s s s s"
				}
			},
			{
				"box": {
					"id": "addr-sample",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						30.0,
						165.0,
						268.0,
						22.0
					],
					"text": "sprintf symout /exsampling/sample/%s"
				}
			},
			{
				"box": {
					"id": "addr-withdraw",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						310.0,
						165.0,
						282.0,
						22.0
					],
					"text": "sprintf symout /exsampling/withdraw/%s"
				}
			},
			{
				"box": {
					"id": "addr-note",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						610.0,
						165.0,
						254.0,
						22.0
					],
					"text": "sprintf symout /exsampling/note/%s"
				}
			},
			{
				"box": {
					"id": "bus",
					"maxclass": "newobj",
					"numinlets": 0,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						30.0,
						205.0,
						170.0,
						22.0
					],
					"text": "receive exsampling.osc"
				}
			},
			{
				"box": {
					"id": "route",
					"maxclass": "newobj",
					"numinlets": 4,
					"numoutlets": 4,
					"outlettype": [
						"",
						"",
						"",
						""
					],
					"patching_rect": [
						30.0,
						240.0,
						560.0,
						22.0
					],
					"text": "route /exsampling/sample/Bass /exsampling/withdraw/Bass /exsampling/note/Bass"
				}
			},
			{
				"box": {
					"id": "c-route",
					"maxclass": "comment",
					"numinlets": 1,
					"numoutlets": 0,
					"patching_rect": [
						600.0,
						235.0,
						300.0,
						36.0
					],
					"text": "the address carries the instrument: the chosen name rewrites route's three addresses (its right inlets)",
					"linecount": 2
				}
			},
			{
				"box": {
					"id": "sample",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 13,
					"outlettype": [
						"int",
						"",
						"",
						"float",
						"",
						"int",
						"float",
						"int",
						"float",
						"float",
						"float",
						"",
						""
					],
					"patching_rect": [
						30.0,
						290.0,
						330.0,
						22.0
					],
					"text": "unpack 0 s s 0. s 0 0. 0 0. 0. 0. s s"
				}
			},
			{
				"box": {
					"id": "c-sample",
					"maxclass": "comment",
					"numinlets": 1,
					"numoutlets": 0,
					"patching_rect": [
						370.0,
						285.0,
						440.0,
						36.0
					],
					"text": "sample_id path label confidence instrument melodic pitch_hz midi_note latitude longitude accuracy_m participant recorded_at (docs/osc.md)",
					"linecount": 2
				}
			},
			{
				"box": {
					"id": "root",
					"maxclass": "newobj",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						200.0,
						340.0,
						270.0,
						22.0
					],
					"text": "if $i1 != 0 && $i2 >= 0 then $i2 else -1"
				}
			},
			{
				"box": {
					"id": "root-v",
					"maxclass": "newobj",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						200.0,
						375.0,
						79.0,
						22.0
					],
					"text": "v ---root"
				}
			},
			{
				"box": {
					"id": "c-root",
					"maxclass": "comment",
					"numinlets": 1,
					"numoutlets": 0,
					"patching_rect": [
						480.0,
						340.0,
						300.0,
						36.0
					],
					"text": "root note: the sample's midi_note when melodic and pitched, else -1 (rate 1)",
					"linecount": 2
				}
			},
			{
				"box": {
					"id": "path-t",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 2,
					"outlettype": [
						"",
						"bang"
					],
					"patching_rect": [
						60.0,
						375.0,
						51.0,
						22.0
					],
					"text": "t s b"
				}
			},
			{
				"box": {
					"id": "release-s",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 0,
					"patching_rect": [
						130.0,
						410.0,
						121.0,
						22.0
					],
					"text": "send ---release"
				}
			},
			{
				"box": {
					"id": "replace",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						60.0,
						445.0,
						121.0,
						22.0
					],
					"text": "prepend replace"
				}
			},
			{
				"box": {
					"id": "buffer",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 2,
					"outlettype": [
						"float",
						"bang"
					],
					"patching_rect": [
						60.0,
						480.0,
						135.0,
						22.0
					],
					"text": "buffer~ ---sample"
				}
			},
			{
				"box": {
					"id": "loaded-t",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 4,
					"outlettype": [
						"bang",
						"bang",
						"bang",
						"bang"
					],
					"patching_rect": [
						60.0,
						515.0,
						80.0,
						22.0
					],
					"text": "t b b b b"
				}
			},
			{
				"box": {
					"id": "info",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 10,
					"outlettype": [
						"float",
						"list",
						"float",
						"float",
						"float",
						"float",
						"float",
						"",
						"int",
						""
					],
					"patching_rect": [
						150.0,
						550.0,
						160.0,
						22.0
					],
					"text": "info~ ---sample"
				}
			},
			{
				"box": {
					"id": "dur-v",
					"maxclass": "newobj",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						150.0,
						585.0,
						72.0,
						22.0
					],
					"text": "v ---dur"
				}
			},
			{
				"box": {
					"id": "c-dur",
					"maxclass": "comment",
					"numinlets": 1,
					"numoutlets": 0,
					"patching_rect": [
						320.0,
						580.0,
						300.0,
						36.0
					],
					"text": "info~ outlet 6: the buffer's length in ms (voices fade out before it ends)",
					"linecount": 2
				}
			},
			{
				"box": {
					"id": "id-t",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 2,
					"outlettype": [
						"int",
						"int"
					],
					"patching_rect": [
						30.0,
						620.0,
						51.0,
						22.0
					],
					"text": "t i i"
				}
			},
			{
				"box": {
					"id": "map-url",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						30.0,
						655.0,
						300.0,
						22.0
					],
					"text": "sprintf url http://127.0.0.1:8765/map?sample=%ld"
				}
			},
			{
				"box": {
					"id": "map",
					"maxclass": "jweb",
					"numinlets": 1,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						30.0,
						690.0,
						320.0,
						200.0
					],
					"presentation": 1,
					"presentation_rect": [
						190.0,
						2.0,
						240.0,
						165.0
					],
					"rendermode": 0,
					"url": ""
				}
			},
			{
				"box": {
					"id": "c-map",
					"maxclass": "comment",
					"numinlets": 1,
					"numoutlets": 0,
					"patching_rect": [
						360.0,
						690.0,
						300.0,
						36.0
					],
					"text": "the console's map page (served by the upload server) centred on where the sample was recorded",
					"linecount": 2
				}
			},
			{
				"box": {
					"id": "label-set",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						400.0,
						430.0,
						93.0,
						22.0
					],
					"text": "prepend set"
				}
			},
			{
				"box": {
					"id": "label",
					"maxclass": "message",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						400.0,
						465.0,
						170.0,
						22.0
					],
					"text": "",
					"presentation": 1,
					"presentation_rect": [
						8.0,
						76.0,
						175.0,
						22.0
					]
				}
			},
			{
				"box": {
					"id": "who-set",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						600.0,
						430.0,
						93.0,
						22.0
					],
					"text": "prepend set"
				}
			},
			{
				"box": {
					"id": "who",
					"maxclass": "message",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						600.0,
						465.0,
						170.0,
						22.0
					],
					"text": "",
					"presentation": 1,
					"presentation_rect": [
						8.0,
						102.0,
						175.0,
						22.0
					]
				}
			},
			{
				"box": {
					"id": "flash",
					"maxclass": "button",
					"numinlets": 1,
					"numoutlets": 1,
					"outlettype": [
						"bang"
					],
					"patching_rect": [
						400.0,
						520.0,
						24.0,
						24.0
					],
					"parameter_enable": 0,
					"presentation": 1,
					"presentation_rect": [
						8.0,
						48.0,
						24.0,
						24.0
					]
				}
			},
			{
				"box": {
					"id": "c-flash",
					"maxclass": "comment",
					"numinlets": 1,
					"numoutlets": 0,
					"patching_rect": [
						430.0,
						522.0,
						90.0,
						20.0
					],
					"text": "new sample",
					"linecount": 1,
					"presentation": 1,
					"presentation_rect": [
						36.0,
						50.0,
						120.0,
						20.0
					]
				}
			},
			{
				"box": {
					"id": "c-head",
					"maxclass": "comment",
					"numinlets": 1,
					"numoutlets": 0,
					"patching_rect": [
						600.0,
						522.0,
						90.0,
						20.0
					],
					"text": "ExSampling",
					"linecount": 1,
					"presentation": 1,
					"presentation_rect": [
						8.0,
						4.0,
						120.0,
						20.0
					]
				}
			},
			{
				"box": {
					"id": "c-who",
					"maxclass": "comment",
					"numinlets": 1,
					"numoutlets": 0,
					"patching_rect": [
						400.0,
						490.0,
						300.0,
						20.0
					],
					"text": "class and participant of the latest sample",
					"linecount": 1
				}
			},
			{
				"box": {
					"id": "withdraw",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 1,
					"outlettype": [
						"int"
					],
					"patching_rect": [
						900.0,
						290.0,
						72.0,
						22.0
					],
					"text": "unpack 0"
				}
			},
			{
				"box": {
					"id": "same-id",
					"maxclass": "newobj",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						"int"
					],
					"patching_rect": [
						900.0,
						330.0,
						40.0,
						22.0
					],
					"text": "=="
				}
			},
			{
				"box": {
					"id": "same-sel",
					"maxclass": "newobj",
					"numinlets": 2,
					"numoutlets": 2,
					"outlettype": [
						"bang",
						""
					],
					"patching_rect": [
						900.0,
						365.0,
						51.0,
						22.0
					],
					"text": "sel 1"
				}
			},
			{
				"box": {
					"id": "withdraw-t",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 4,
					"outlettype": [
						"bang",
						"bang",
						"bang",
						"bang"
					],
					"patching_rect": [
						900.0,
						400.0,
						79.0,
						22.0
					],
					"text": "t b b b b"
				}
			},
			{
				"box": {
					"id": "no-id",
					"maxclass": "message",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						1080.0,
						435.0,
						40.0,
						22.0
					],
					"text": "-1"
				}
			},
			{
				"box": {
					"id": "clear",
					"maxclass": "message",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						1020.0,
						435.0,
						51.0,
						22.0
					],
					"text": "clear"
				}
			},
			{
				"box": {
					"id": "withdrawn",
					"maxclass": "message",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						900.0,
						470.0,
						107.0,
						22.0
					],
					"text": "set withdrawn"
				}
			},
			{
				"box": {
					"id": "release-s2",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 0,
					"patching_rect": [
						1140.0,
						435.0,
						121.0,
						22.0
					],
					"text": "send ---release"
				}
			},
			{
				"box": {
					"id": "c-withdraw",
					"maxclass": "comment",
					"numinlets": 1,
					"numoutlets": 0,
					"patching_rect": [
						900.0,
						505.0,
						300.0,
						36.0
					],
					"text": "only the sample this track holds is taken back: silence, nothing left to play",
					"linecount": 2
				}
			},
			{
				"box": {
					"id": "note",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 2,
					"outlettype": [
						"int",
						"int"
					],
					"patching_rect": [
						1250.0,
						290.0,
						86.0,
						22.0
					],
					"text": "unpack 0 0"
				}
			},
			{
				"box": {
					"id": "note-pack",
					"maxclass": "newobj",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						1250.0,
						325.0,
						72.0,
						22.0
					],
					"text": "pack 0 0"
				}
			},
			{
				"box": {
					"id": "c-note",
					"maxclass": "comment",
					"numinlets": 1,
					"numoutlets": 0,
					"patching_rect": [
						1340.0,
						320.0,
						280.0,
						36.0
					],
					"text": "unpack/pack: ints only, arguments appended by later versions dropped",
					"linecount": 2
				}
			},
			{
				"box": {
					"id": "midiin",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 1,
					"outlettype": [
						"int"
					],
					"patching_rect": [
						1400.0,
						365.0,
						58.0,
						22.0
					],
					"text": "midiin"
				}
			},
			{
				"box": {
					"id": "midiparse",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 8,
					"outlettype": [
						"",
						"",
						"",
						"int",
						"int",
						"",
						"int",
						""
					],
					"patching_rect": [
						1400.0,
						400.0,
						79.0,
						22.0
					],
					"text": "midiparse"
				}
			},
			{
				"box": {
					"id": "midinote",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						1250.0,
						440.0,
						128.0,
						22.0
					],
					"text": "prepend midinote"
				}
			},
			{
				"box": {
					"id": "poly",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 1,
					"outlettype": [
						"signal"
					],
					"patching_rect": [
						1250.0,
						480.0,
						240.0,
						22.0
					],
					"text": "poly~ exsampling-voice 4 @steal 1"
				}
			},
			{
				"box": {
					"id": "c-poly",
					"maxclass": "comment",
					"numinlets": 1,
					"numoutlets": 0,
					"patching_rect": [
						1500.0,
						480.0,
						260.0,
						20.0
					],
					"text": "4 voices; a note-off reaches the voice playing that pitch",
					"linecount": 1
				}
			},
			{
				"box": {
					"id": "plugout",
					"maxclass": "newobj",
					"numinlets": 2,
					"numoutlets": 2,
					"outlettype": [
						"signal",
						"signal"
					],
					"patching_rect": [
						1250.0,
						530.0,
						72.0,
						22.0
					],
					"text": "plugout~"
				}
			},
			{
				"box": {
					"id": "instrument",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 3,
					"outlettype": [
						"",
						"",
						""
					],
					"patching_rect": [
						30.0,
						95.0,
						120.0,
						22.0
					],
					"text": "pattr instrument",
					"parameter_enable": 1,
					"saved_attribute_attributes": {
						"valueof": {
							"parameter_longname": "Instrument",
							"parameter_shortname": "Instrument",
							"parameter_type": 3,
							"parameter_invisible": 1,
							"parameter_initial_enable": 1,
							"parameter_initial": [
								"Bass"
							]
						}
					},
					"varname": "instrument"
				}
			},
			{
				"box": {
					"id": "c-instrument",
					"maxclass": "comment",
					"numinlets": 1,
					"numoutlets": 0,
					"patching_rect": [
						160.0,
						90.0,
						420.0,
						36.0
					],
					"text": "pattr (a Live 'blob' parameter): the instrument followed, any name, saved with the Live set; its initial value is Bass",
					"linecount": 2
				}
			},
			{
				"box": {
					"id": "route-names",
					"maxclass": "newobj",
					"numinlets": 2,
					"numoutlets": 2,
					"outlettype": [
						"",
						""
					],
					"patching_rect": [
						220.0,
						205.0,
						190.0,
						22.0
					],
					"text": "route /exsampling/instruments"
				}
			},
			{
				"box": {
					"id": "names-change",
					"maxclass": "newobj",
					"numinlets": 2,
					"numoutlets": 2,
					"outlettype": [
						"",
						""
					],
					"patching_rect": [
						1850.0,
						95.0,
						70.0,
						22.0
					],
					"text": "zl.change"
				}
			},
			{
				"box": {
					"id": "names-t",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 3,
					"outlettype": [
						"bang",
						"",
						"bang"
					],
					"patching_rect": [
						1850.0,
						130.0,
						60.0,
						22.0
					],
					"text": "t b l b"
				}
			},
			{
				"box": {
					"id": "menu-reset",
					"maxclass": "message",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						2000.0,
						165.0,
						150.0,
						22.0
					],
					"text": "clear, append (choose)"
				}
			},
			{
				"box": {
					"id": "names-iter",
					"maxclass": "newobj",
					"numinlets": 2,
					"numoutlets": 2,
					"outlettype": [
						"",
						""
					],
					"patching_rect": [
						1920.0,
						165.0,
						70.0,
						22.0
					],
					"text": "zl.iter 1"
				}
			},
			{
				"box": {
					"id": "names-append",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						1920.0,
						200.0,
						100.0,
						22.0
					],
					"text": "prepend append"
				}
			},
			{
				"box": {
					"id": "menu-top",
					"maxclass": "message",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						1850.0,
						235.0,
						50.0,
						22.0
					],
					"text": "set 0"
				}
			},
			{
				"box": {
					"id": "menu",
					"maxclass": "umenu",
					"numinlets": 1,
					"numoutlets": 3,
					"outlettype": [
						"int",
						"",
						""
					],
					"patching_rect": [
						1850.0,
						270.0,
						100.0,
						22.0
					],
					"parameter_enable": 0,
					"presentation": 1,
					"presentation_rect": [
						8.0,
						24.0,
						86.0,
						22.0
					],
					"items": [
						"(choose)"
					]
				}
			},
			{
				"box": {
					"id": "menu-reg",
					"maxclass": "newobj",
					"numinlets": 2,
					"numoutlets": 2,
					"outlettype": [
						"",
						""
					],
					"patching_rect": [
						1970.0,
						345.0,
						60.0,
						22.0
					],
					"text": "zl.reg"
				}
			},
			{
				"box": {
					"id": "menu-sel",
					"maxclass": "newobj",
					"numinlets": 2,
					"numoutlets": 2,
					"outlettype": [
						"bang",
						""
					],
					"patching_rect": [
						1850.0,
						310.0,
						50.0,
						22.0
					],
					"text": "sel 0"
				}
			},
			{
				"box": {
					"id": "menu-bang",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 1,
					"outlettype": [
						"bang"
					],
					"patching_rect": [
						1890.0,
						345.0,
						30.0,
						22.0
					],
					"text": "t b"
				}
			},
			{
				"box": {
					"id": "typed",
					"maxclass": "textedit",
					"numinlets": 1,
					"numoutlets": 4,
					"outlettype": [
						"",
						"int",
						"",
						""
					],
					"patching_rect": [
						2050.0,
						270.0,
						120.0,
						22.0
					],
					"presentation": 1,
					"presentation_rect": [
						98.0,
						24.0,
						86.0,
						22.0
					],
					"keymode": 1,
					"lines": 1,
					"wordwrap": 0
				}
			},
			{
				"box": {
					"id": "typed-route",
					"maxclass": "newobj",
					"numinlets": 2,
					"numoutlets": 2,
					"outlettype": [
						"",
						""
					],
					"patching_rect": [
						2050.0,
						310.0,
						80.0,
						22.0
					],
					"text": "route text"
				}
			},
			{
				"box": {
					"id": "following-set",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						600.0,
						95.0,
						150.0,
						22.0
					],
					"text": "prepend set following"
				}
			},
			{
				"box": {
					"id": "following",
					"maxclass": "message",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						760.0,
						95.0,
						170.0,
						22.0
					],
					"text": "following Bass",
					"presentation": 1,
					"presentation_rect": [
						8.0,
						128.0,
						175.0,
						22.0
					]
				}
			},
			{
				"box": {
					"id": "c-names",
					"maxclass": "comment",
					"numinlets": 1,
					"numoutlets": 0,
					"patching_rect": [
						1850.0,
						20.0,
						330.0,
						52.0
					],
					"text": "PREFIX/instruments: the menu offers the names the console announces (rebuilt only when they change); a name can also be typed (Return). Either becomes the instrument followed.",
					"linecount": 3
				}
			},
			{
				"box": {
					"id": "rollcall",
					"maxclass": "newobj",
					"numinlets": 0,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						1850.0,
						420.0,
						170.0,
						22.0
					],
					"text": "receive exsampling.rollcall"
				}
			},
			{
				"box": {
					"id": "roll-reg",
					"maxclass": "newobj",
					"numinlets": 2,
					"numoutlets": 2,
					"outlettype": [
						"",
						""
					],
					"patching_rect": [
						1850.0,
						455.0,
						60.0,
						22.0
					],
					"text": "zl.reg"
				}
			},
			{
				"box": {
					"id": "roll-send",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 0,
					"patching_rect": [
						1850.0,
						490.0,
						160.0,
						22.0
					],
					"text": "send exsampling.tracks"
				}
			},
			{
				"box": {
					"id": "sample-t",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 3,
					"outlettype": [
						"",
						"bang",
						""
					],
					"patching_rect": [
						30.0,
						264.0,
						60.0,
						22.0
					],
					"text": "t l b l"
				}
			},
			{
				"box": {
					"id": "id-slice",
					"maxclass": "newobj",
					"numinlets": 2,
					"numoutlets": 2,
					"outlettype": [
						"",
						""
					],
					"patching_rect": [
						30.0,
						940.0,
						70.0,
						22.0
					],
					"text": "zl.slice 1"
				}
			},
			{
				"box": {
					"id": "ids-t",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 3,
					"outlettype": [
						"int",
						"int",
						"int"
					],
					"patching_rect": [
						30.0,
						975.0,
						60.0,
						22.0
					],
					"text": "t i i i"
				}
			},
			{
				"box": {
					"id": "reset-t",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 3,
					"outlettype": [
						"bang",
						"bang",
						"bang"
					],
					"patching_rect": [
						300.0,
						940.0,
						60.0,
						22.0
					],
					"text": "t b b b"
				}
			},
			{
				"box": {
					"id": "timeout",
					"maxclass": "newobj",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						"bang"
					],
					"patching_rect": [
						760.0,
						940.0,
						80.0,
						22.0
					],
					"text": "delay 1000"
				}
			},
			{
				"box": {
					"id": "gate-close",
					"maxclass": "message",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						300.0,
						975.0,
						30.0,
						22.0
					],
					"text": "0"
				}
			},
			{
				"box": {
					"id": "count-zero",
					"maxclass": "message",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						340.0,
						975.0,
						30.0,
						22.0
					],
					"text": "0"
				}
			},
			{
				"box": {
					"id": "reason-fmt",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						500.0,
						940.0,
						210.0,
						22.0
					],
					"text": "sprintf symout could not read %s"
				}
			},
			{
				"box": {
					"id": "timeout-stop",
					"maxclass": "message",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						240.0,
						515.0,
						40.0,
						22.0
					],
					"text": "stop"
				}
			},
			{
				"box": {
					"id": "gate-open",
					"maxclass": "message",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						290.0,
						515.0,
						30.0,
						22.0
					],
					"text": "1"
				}
			},
			{
				"box": {
					"id": "id-ok",
					"maxclass": "newobj",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						"int"
					],
					"patching_rect": [
						30.0,
						1010.0,
						40.0,
						22.0
					],
					"text": "i"
				}
			},
			{
				"box": {
					"id": "pack-loaded",
					"maxclass": "newobj",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						30.0,
						1045.0,
						70.0,
						22.0
					],
					"text": "pack 0 s"
				}
			},
			{
				"box": {
					"id": "msg-loaded",
					"maxclass": "message",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						30.0,
						1080.0,
						230.0,
						22.0
					],
					"text": "/exsampling/loaded $1 $2 1 loaded"
				}
			},
			{
				"box": {
					"id": "id-failed",
					"maxclass": "newobj",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						"int"
					],
					"patching_rect": [
						300.0,
						1010.0,
						40.0,
						22.0
					],
					"text": "i"
				}
			},
			{
				"box": {
					"id": "pack-failed",
					"maxclass": "newobj",
					"numinlets": 3,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						300.0,
						1045.0,
						80.0,
						22.0
					],
					"text": "pack 0 s s"
				}
			},
			{
				"box": {
					"id": "msg-failed",
					"maxclass": "message",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						300.0,
						1080.0,
						220.0,
						22.0
					],
					"text": "/exsampling/loaded $1 $2 0 $3"
				}
			},
			{
				"box": {
					"id": "answer-send",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 0,
					"patching_rect": [
						30.0,
						1130.0,
						160.0,
						22.0
					],
					"text": "send exsampling.answer"
				}
			},
			{
				"box": {
					"id": "c-loaded",
					"maxclass": "comment",
					"numinlets": 1,
					"numoutlets": 0,
					"patching_rect": [
						560.0,
						1010.0,
						360.0,
						52.0
					],
					"text": "PREFIX/loaded (docs/osc.md): 1 when buffer~ has read the file; 0 with the path when it has not finished within 1 s (missing or unreadable file). The answers go to the hub on exsampling.answer.",
					"linecount": 3
				}
			},
			{
				"box": {
					"id": "note-t",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 2,
					"outlettype": [
						"",
						""
					],
					"patching_rect": [
						1250.0,
						400.0,
						40.0,
						22.0
					],
					"text": "t l l"
				}
			},
			{
				"box": {
					"id": "vel",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 2,
					"outlettype": [
						"int",
						"int"
					],
					"patching_rect": [
						1320.0,
						580.0,
						70.0,
						22.0
					],
					"text": "unpack 0 0"
				}
			},
			{
				"box": {
					"id": "vel-on",
					"maxclass": "newobj",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						"int"
					],
					"patching_rect": [
						1360.0,
						615.0,
						40.0,
						22.0
					],
					"text": "> 0"
				}
			},
			{
				"box": {
					"id": "vel-sel",
					"maxclass": "newobj",
					"numinlets": 2,
					"numoutlets": 2,
					"outlettype": [
						"bang",
						""
					],
					"patching_rect": [
						1360.0,
						650.0,
						50.0,
						22.0
					],
					"text": "sel 1"
				}
			},
			{
				"box": {
					"id": "gate",
					"maxclass": "newobj",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						1320.0,
						685.0,
						50.0,
						22.0
					],
					"text": "gate"
				}
			},
			{
				"box": {
					"id": "count",
					"maxclass": "newobj",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						"int"
					],
					"patching_rect": [
						1320.0,
						720.0,
						40.0,
						22.0
					],
					"text": "i"
				}
			},
			{
				"box": {
					"id": "count-inc",
					"maxclass": "newobj",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						"int"
					],
					"patching_rect": [
						1380.0,
						720.0,
						40.0,
						22.0
					],
					"text": "+ 1"
				}
			},
			{
				"box": {
					"id": "count-t",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 2,
					"outlettype": [
						"bang",
						"int"
					],
					"patching_rect": [
						1380.0,
						755.0,
						50.0,
						22.0
					],
					"text": "t b i"
				}
			},
			{
				"box": {
					"id": "id-played",
					"maxclass": "newobj",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						"int"
					],
					"patching_rect": [
						1320.0,
						790.0,
						40.0,
						22.0
					],
					"text": "i"
				}
			},
			{
				"box": {
					"id": "pack-played",
					"maxclass": "newobj",
					"numinlets": 3,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						1320.0,
						825.0,
						90.0,
						22.0
					],
					"text": "pack 0 0 s"
				}
			},
			{
				"box": {
					"id": "limit",
					"maxclass": "newobj",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						1320.0,
						860.0,
						100.0,
						22.0
					],
					"text": "speedlim 1000"
				}
			},
			{
				"box": {
					"id": "msg-played",
					"maxclass": "message",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						1320.0,
						895.0,
						200.0,
						22.0
					],
					"text": "/exsampling/played $1 $2 $3"
				}
			},
			{
				"box": {
					"id": "c-played",
					"maxclass": "comment",
					"numinlets": 1,
					"numoutlets": 0,
					"patching_rect": [
						1500.0,
						720.0,
						330.0,
						52.0
					],
					"text": "PREFIX/played: the count of note-ons that sounded this sample; speedlim lets the first through and then at most one a second, the latest count of a burst at the end of the second.",
					"linecount": 3
				}
			}
		],
		"lines": [
			{
				"patchline": {
					"source": [
						"instrument-t",
						0
					],
					"destination": [
						"addr-sample",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"instrument-t",
						1
					],
					"destination": [
						"addr-withdraw",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"instrument-t",
						2
					],
					"destination": [
						"addr-note",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"addr-sample",
						0
					],
					"destination": [
						"route",
						1
					]
				}
			},
			{
				"patchline": {
					"source": [
						"addr-withdraw",
						0
					],
					"destination": [
						"route",
						2
					]
				}
			},
			{
				"patchline": {
					"source": [
						"addr-note",
						0
					],
					"destination": [
						"route",
						3
					]
				}
			},
			{
				"patchline": {
					"source": [
						"route",
						1
					],
					"destination": [
						"withdraw",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"route",
						2
					],
					"destination": [
						"note",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"sample",
						7
					],
					"destination": [
						"root",
						1
					]
				}
			},
			{
				"patchline": {
					"source": [
						"sample",
						5
					],
					"destination": [
						"root",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"root",
						0
					],
					"destination": [
						"root-v",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"sample",
						1
					],
					"destination": [
						"path-t",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"path-t",
						1
					],
					"destination": [
						"release-s",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"path-t",
						0
					],
					"destination": [
						"replace",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"replace",
						0
					],
					"destination": [
						"buffer",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"buffer",
						1
					],
					"destination": [
						"loaded-t",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"loaded-t",
						1
					],
					"destination": [
						"info",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"info",
						6
					],
					"destination": [
						"dur-v",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"loaded-t",
						0
					],
					"destination": [
						"flash",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"sample",
						2
					],
					"destination": [
						"label-set",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"label-set",
						0
					],
					"destination": [
						"label",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"sample",
						11
					],
					"destination": [
						"who-set",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"who-set",
						0
					],
					"destination": [
						"who",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"sample",
						0
					],
					"destination": [
						"id-t",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"id-t",
						1
					],
					"destination": [
						"same-id",
						1
					]
				}
			},
			{
				"patchline": {
					"source": [
						"id-t",
						0
					],
					"destination": [
						"map-url",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"map-url",
						0
					],
					"destination": [
						"map",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"withdraw",
						0
					],
					"destination": [
						"same-id",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"same-id",
						0
					],
					"destination": [
						"same-sel",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"same-sel",
						0
					],
					"destination": [
						"withdraw-t",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"withdraw-t",
						3
					],
					"destination": [
						"release-s2",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"clear",
						0
					],
					"destination": [
						"buffer",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"no-id",
						0
					],
					"destination": [
						"same-id",
						1
					]
				}
			},
			{
				"patchline": {
					"source": [
						"withdraw-t",
						0
					],
					"destination": [
						"withdrawn",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"withdrawn",
						0
					],
					"destination": [
						"label",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"note",
						0
					],
					"destination": [
						"note-pack",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"note",
						1
					],
					"destination": [
						"note-pack",
						1
					]
				}
			},
			{
				"patchline": {
					"source": [
						"midiin",
						0
					],
					"destination": [
						"midiparse",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"midinote",
						0
					],
					"destination": [
						"poly",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"poly",
						0
					],
					"destination": [
						"plugout",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"poly",
						0
					],
					"destination": [
						"plugout",
						1
					]
				}
			},
			{
				"patchline": {
					"source": [
						"thisdevice",
						0
					],
					"destination": [
						"instrument",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"instrument",
						0
					],
					"destination": [
						"instrument-t",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"bus",
						0
					],
					"destination": [
						"route-names",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"route-names",
						1
					],
					"destination": [
						"route",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"route-names",
						0
					],
					"destination": [
						"names-change",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"names-change",
						0
					],
					"destination": [
						"names-t",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"names-t",
						2
					],
					"destination": [
						"menu-reset",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"menu-reset",
						0
					],
					"destination": [
						"menu",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"names-t",
						1
					],
					"destination": [
						"names-iter",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"names-iter",
						0
					],
					"destination": [
						"names-append",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"names-append",
						0
					],
					"destination": [
						"menu",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"names-t",
						0
					],
					"destination": [
						"menu-top",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"menu-top",
						0
					],
					"destination": [
						"menu",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"menu",
						1
					],
					"destination": [
						"menu-reg",
						1
					]
				}
			},
			{
				"patchline": {
					"source": [
						"menu",
						0
					],
					"destination": [
						"menu-sel",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"menu-sel",
						1
					],
					"destination": [
						"menu-bang",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"menu-bang",
						0
					],
					"destination": [
						"menu-reg",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"menu-reg",
						0
					],
					"destination": [
						"instrument",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"typed",
						0
					],
					"destination": [
						"typed-route",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"typed-route",
						0
					],
					"destination": [
						"instrument",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"typed-route",
						1
					],
					"destination": [
						"instrument",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"instrument-t",
						7
					],
					"destination": [
						"following-set",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"following-set",
						0
					],
					"destination": [
						"following",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"rollcall",
						0
					],
					"destination": [
						"roll-reg",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"instrument-t",
						3
					],
					"destination": [
						"roll-reg",
						1
					]
				}
			},
			{
				"patchline": {
					"source": [
						"roll-reg",
						0
					],
					"destination": [
						"roll-send",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"route",
						0
					],
					"destination": [
						"sample-t",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"sample-t",
						0
					],
					"destination": [
						"sample",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"sample-t",
						2
					],
					"destination": [
						"id-slice",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"id-slice",
						0
					],
					"destination": [
						"ids-t",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"sample-t",
						1
					],
					"destination": [
						"reset-t",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"reset-t",
						2
					],
					"destination": [
						"timeout",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"reset-t",
						1
					],
					"destination": [
						"gate-close",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"reset-t",
						0
					],
					"destination": [
						"count-zero",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"sample",
						1
					],
					"destination": [
						"reason-fmt",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"loaded-t",
						3
					],
					"destination": [
						"timeout-stop",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"timeout-stop",
						0
					],
					"destination": [
						"timeout",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"loaded-t",
						2
					],
					"destination": [
						"gate-open",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"loaded-t",
						0
					],
					"destination": [
						"id-ok",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"ids-t",
						2
					],
					"destination": [
						"id-ok",
						1
					]
				}
			},
			{
				"patchline": {
					"source": [
						"id-ok",
						0
					],
					"destination": [
						"pack-loaded",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"instrument-t",
						4
					],
					"destination": [
						"pack-loaded",
						1
					]
				}
			},
			{
				"patchline": {
					"source": [
						"pack-loaded",
						0
					],
					"destination": [
						"msg-loaded",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"msg-loaded",
						0
					],
					"destination": [
						"answer-send",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"timeout",
						0
					],
					"destination": [
						"id-failed",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"ids-t",
						1
					],
					"destination": [
						"id-failed",
						1
					]
				}
			},
			{
				"patchline": {
					"source": [
						"id-failed",
						0
					],
					"destination": [
						"pack-failed",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"instrument-t",
						5
					],
					"destination": [
						"pack-failed",
						1
					]
				}
			},
			{
				"patchline": {
					"source": [
						"reason-fmt",
						0
					],
					"destination": [
						"pack-failed",
						2
					]
				}
			},
			{
				"patchline": {
					"source": [
						"pack-failed",
						0
					],
					"destination": [
						"msg-failed",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"msg-failed",
						0
					],
					"destination": [
						"answer-send",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"withdraw-t",
						2
					],
					"destination": [
						"no-id",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"withdraw-t",
						1
					],
					"destination": [
						"clear",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"no-id",
						0
					],
					"destination": [
						"id-ok",
						1
					]
				}
			},
			{
				"patchline": {
					"source": [
						"no-id",
						0
					],
					"destination": [
						"id-failed",
						1
					]
				}
			},
			{
				"patchline": {
					"source": [
						"no-id",
						0
					],
					"destination": [
						"id-played",
						1
					]
				}
			},
			{
				"patchline": {
					"source": [
						"withdraw-t",
						0
					],
					"destination": [
						"gate-close",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"note-pack",
						0
					],
					"destination": [
						"note-t",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"midiparse",
						0
					],
					"destination": [
						"note-t",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"note-t",
						0
					],
					"destination": [
						"midinote",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"note-t",
						1
					],
					"destination": [
						"vel",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"vel",
						1
					],
					"destination": [
						"vel-on",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"vel-on",
						0
					],
					"destination": [
						"vel-sel",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"vel-sel",
						0
					],
					"destination": [
						"gate",
						1
					]
				}
			},
			{
				"patchline": {
					"source": [
						"gate-close",
						0
					],
					"destination": [
						"gate",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"gate-open",
						0
					],
					"destination": [
						"gate",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"gate",
						0
					],
					"destination": [
						"count",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"count",
						0
					],
					"destination": [
						"count-inc",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"count-inc",
						0
					],
					"destination": [
						"count",
						1
					]
				}
			},
			{
				"patchline": {
					"source": [
						"count-inc",
						0
					],
					"destination": [
						"count-t",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"count-t",
						1
					],
					"destination": [
						"pack-played",
						1
					]
				}
			},
			{
				"patchline": {
					"source": [
						"count-t",
						0
					],
					"destination": [
						"id-played",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"ids-t",
						0
					],
					"destination": [
						"id-played",
						1
					]
				}
			},
			{
				"patchline": {
					"source": [
						"id-played",
						0
					],
					"destination": [
						"pack-played",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"instrument-t",
						6
					],
					"destination": [
						"pack-played",
						2
					]
				}
			},
			{
				"patchline": {
					"source": [
						"count-zero",
						0
					],
					"destination": [
						"count",
						1
					]
				}
			},
			{
				"patchline": {
					"source": [
						"pack-played",
						0
					],
					"destination": [
						"limit",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"limit",
						0
					],
					"destination": [
						"msg-played",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"msg-played",
						0
					],
					"destination": [
						"answer-send",
						0
					]
				}
			}
		],
		"dependency_cache": [],
		"latency": 0,
		"is_mpe": 0,
		"minimum_live_version": "",
		"minimum_max_version": "",
		"platform_compatibility": 0,
		"project": {
			"version": 1,
			"creationdate": 3590052786,
			"modificationdate": 3590052786,
			"viewrect": [
				0.0,
				0.0,
				300.0,
				500.0
			],
			"autoorganize": 1,
			"hideprojectwindow": 1,
			"showdependencies": 1,
			"autolocalize": 0,
			"contents": {
				"patchers": {}
			},
			"layout": {},
			"searchpath": {},
			"detailsvisible": 0,
			"amxdtype": 1768515945,
			"readonly": 0,
			"devpathtype": 0,
			"devpath": ".",
			"sortmode": 0,
			"viewmode": 0,
			"includepackages": 0
		},
		"autosave": 0
	}
}
