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
			1800.0,
			920.0
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
						700.0,
						36.0
					],
					"text": "ExSampling track: one per MIDI track. The menu chooses the instrument it follows; the hub device forwards the console's OSC on 'exsampling.osc'.",
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
					"id": "instrument",
					"maxclass": "live.menu",
					"numinlets": 1,
					"numoutlets": 3,
					"outlettype": [
						"",
						"",
						"float"
					],
					"patching_rect": [
						30.0,
						95.0,
						100.0,
						15.0
					],
					"parameter_enable": 1,
					"presentation": 1,
					"presentation_rect": [
						8.0,
						26.0,
						110.0,
						15.0
					],
					"varname": "Instrument",
					"saved_attribute_attributes": {
						"valueof": {
							"parameter_enum": [
								"Bass",
								"BD",
								"Chorus",
								"HH",
								"Piano",
								"Snare",
								"T",
								"TT",
								"Wind"
							],
							"parameter_longname": "Instrument",
							"parameter_shortname": "Instrument",
							"parameter_type": 2,
							"parameter_mmax": 8,
							"parameter_initial_enable": 1,
							"parameter_initial": [
								0.0
							]
						}
					}
				}
			},
			{
				"box": {
					"id": "instrument-t",
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
						130.0,
						65.0,
						22.0
					],
					"text": "t s s s"
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
					"text": "the address carries the instrument: the menu rewrites route's three addresses (its right inlets)",
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
					"numoutlets": 2,
					"outlettype": [
						"bang",
						"bang"
					],
					"patching_rect": [
						60.0,
						515.0,
						51.0,
						22.0
					],
					"text": "t b b"
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
			}
		],
		"lines": [
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
						1
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
						"bus",
						0
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
						"route",
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
						"withdraw-t",
						2
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
						"withdraw-t",
						1
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
						"note-pack",
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
						"midiparse",
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
