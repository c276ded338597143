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
			100.0,
			100.0,
			1300.0,
			640.0
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
		"devicewidth": 170.0,
		"description": "ExSampling hub: receives the console's OSC, forwards it to the ExSampling track devices, and sends their answers back.",
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
					"text": "ExSampling hub: owns the OSC port, forwards every message to the track devices (send exsampling.osc), says hello every 3 s and sends the tracks' answers to the console (docs/osc.md). One per Live set.",
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
					"id": "port",
					"maxclass": "live.numbox",
					"numinlets": 1,
					"numoutlets": 2,
					"outlettype": [
						"",
						"float"
					],
					"patching_rect": [
						30.0,
						95.0,
						60.0,
						15.0
					],
					"parameter_enable": 1,
					"presentation": 1,
					"presentation_rect": [
						8.0,
						30.0,
						60.0,
						15.0
					],
					"varname": "Port",
					"saved_attribute_attributes": {
						"valueof": {
							"parameter_longname": "Port",
							"parameter_shortname": "Port",
							"parameter_type": 1,
							"parameter_mmin": 1024.0,
							"parameter_mmax": 65535.0,
							"parameter_initial_enable": 1,
							"parameter_initial": [
								7400.0
							],
							"parameter_unitstyle": 0
						}
					}
				}
			},
			{
				"box": {
					"id": "prepend-port",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						30.0,
						130.0,
						100.0,
						22.0
					],
					"text": "prepend port"
				}
			},
			{
				"box": {
					"id": "udpreceive",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						30.0,
						170.0,
						121.0,
						22.0
					],
					"text": "udpreceive 7400"
				}
			},
			{
				"box": {
					"id": "send",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 0,
					"patching_rect": [
						30.0,
						215.0,
						149.0,
						22.0
					],
					"text": "send exsampling.osc"
				}
			},
			{
				"box": {
					"id": "activity-t",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 1,
					"outlettype": [
						"bang"
					],
					"patching_rect": [
						200.0,
						215.0,
						40.0,
						22.0
					],
					"text": "t b"
				}
			},
			{
				"box": {
					"id": "activity",
					"maxclass": "button",
					"numinlets": 1,
					"numoutlets": 1,
					"outlettype": [
						"bang"
					],
					"patching_rect": [
						200.0,
						250.0,
						24.0,
						24.0
					],
					"parameter_enable": 0,
					"presentation": 1,
					"presentation_rect": [
						76.0,
						26.0,
						24.0,
						24.0
					]
				}
			},
			{
				"box": {
					"id": "c-port",
					"maxclass": "comment",
					"numinlets": 1,
					"numoutlets": 0,
					"patching_rect": [
						30.0,
						280.0,
						80.0,
						20.0
					],
					"text": "OSC port",
					"linecount": 1,
					"presentation": 1,
					"presentation_rect": [
						8.0,
						10.0,
						60.0,
						20.0
					]
				}
			},
			{
				"box": {
					"id": "c-activity",
					"maxclass": "comment",
					"numinlets": 1,
					"numoutlets": 0,
					"patching_rect": [
						230.0,
						252.0,
						60.0,
						20.0
					],
					"text": "OSC in",
					"linecount": 1,
					"presentation": 1,
					"presentation_rect": [
						104.0,
						30.0,
						60.0,
						20.0
					]
				}
			},
			{
				"box": {
					"id": "c-info",
					"maxclass": "comment",
					"numinlets": 1,
					"numoutlets": 0,
					"patching_rect": [
						30.0,
						300.0,
						120.0,
						20.0
					],
					"text": "ExSampling hub",
					"linecount": 1,
					"presentation": 1,
					"presentation_rect": [
						8.0,
						60.0,
						150.0,
						20.0
					]
				}
			},
			{
				"box": {
					"id": "plugin",
					"maxclass": "newobj",
					"numinlets": 2,
					"numoutlets": 2,
					"outlettype": [
						"signal",
						"signal"
					],
					"patching_rect": [
						350.0,
						60.0,
						65.0,
						22.0
					],
					"text": "plugin~"
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
						350.0,
						120.0,
						72.0,
						22.0
					],
					"text": "plugout~"
				}
			},
			{
				"box": {
					"id": "c-audio",
					"maxclass": "comment",
					"numinlets": 1,
					"numoutlets": 0,
					"patching_rect": [
						350.0,
						150.0,
						260.0,
						36.0
					],
					"text": "audio passes through untouched: the hub can sit on any track, e.g. the Master",
					"linecount": 2
				}
			},
			{
				"box": {
					"id": "c-bind",
					"maxclass": "comment",
					"numinlets": 1,
					"numoutlets": 0,
					"patching_rect": [
						350.0,
						200.0,
						300.0,
						52.0
					],
					"text": "Max lets only one udpreceive bind a port: the hub binds it once and every track device listens on the send/receive bus instead.",
					"linecount": 2
				}
			},
			{
				"box": {
					"id": "udpsend",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 0,
					"patching_rect": [
						700.0,
						470.0,
						140.0,
						22.0
					],
					"text": "udpsend 127.0.0.1 7401"
				}
			},
			{
				"box": {
					"id": "reply-route",
					"maxclass": "newobj",
					"numinlets": 2,
					"numoutlets": 2,
					"outlettype": [
						"",
						""
					],
					"patching_rect": [
						700.0,
						215.0,
						160.0,
						22.0
					],
					"text": "route /exsampling/reply"
				}
			},
			{
				"box": {
					"id": "reply-unpack",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 2,
					"outlettype": [
						"",
						"int"
					],
					"patching_rect": [
						700.0,
						250.0,
						70.0,
						22.0
					],
					"text": "unpack s 0"
				}
			},
			{
				"box": {
					"id": "reply-host",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						700.0,
						285.0,
						90.0,
						22.0
					],
					"text": "prepend host"
				}
			},
			{
				"box": {
					"id": "reply-port",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						800.0,
						285.0,
						90.0,
						22.0
					],
					"text": "prepend port"
				}
			},
			{
				"box": {
					"id": "reply-show",
					"maxclass": "newobj",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						900.0,
						250.0,
						190.0,
						22.0
					],
					"text": "sprintf set answers to %s:%ld"
				}
			},
			{
				"box": {
					"id": "reply-label",
					"maxclass": "message",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						900.0,
						285.0,
						170.0,
						22.0
					],
					"text": "answers to 127.0.0.1:7401",
					"presentation": 1,
					"presentation_rect": [
						8.0,
						84.0,
						155.0,
						22.0
					]
				}
			},
			{
				"box": {
					"id": "answers",
					"maxclass": "newobj",
					"numinlets": 0,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						860.0,
						430.0,
						150.0,
						22.0
					],
					"text": "receive exsampling.answer"
				}
			},
			{
				"box": {
					"id": "hello-on",
					"maxclass": "message",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						30.0,
						330.0,
						30.0,
						22.0
					],
					"text": "1"
				}
			},
			{
				"box": {
					"id": "metro",
					"maxclass": "newobj",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						"bang"
					],
					"patching_rect": [
						30.0,
						365.0,
						80.0,
						22.0
					],
					"text": "metro 3000"
				}
			},
			{
				"box": {
					"id": "hello-t",
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
						30.0,
						400.0,
						80.0,
						22.0
					],
					"text": "t b b b b"
				}
			},
			{
				"box": {
					"id": "hello-clear",
					"maxclass": "message",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						230.0,
						435.0,
						60.0,
						22.0
					],
					"text": "zlclear"
				}
			},
			{
				"box": {
					"id": "hello-head",
					"maxclass": "message",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						160.0,
						435.0,
						70.0,
						22.0
					],
					"text": "max-hub 2"
				}
			},
			{
				"box": {
					"id": "rollcall",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 0,
					"patching_rect": [
						90.0,
						470.0,
						160.0,
						22.0
					],
					"text": "send exsampling.rollcall"
				}
			},
			{
				"box": {
					"id": "tracks",
					"maxclass": "newobj",
					"numinlets": 0,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						260.0,
						400.0,
						140.0,
						22.0
					],
					"text": "receive exsampling.tracks"
				}
			},
			{
				"box": {
					"id": "names",
					"maxclass": "newobj",
					"numinlets": 2,
					"numoutlets": 2,
					"outlettype": [
						"",
						""
					],
					"patching_rect": [
						30.0,
						505.0,
						90.0,
						22.0
					],
					"text": "zl.group 256"
				}
			},
			{
				"box": {
					"id": "hello",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						30.0,
						540.0,
						190.0,
						22.0
					],
					"text": "prepend /exsampling/hello"
				}
			},
			{
				"box": {
					"id": "c-reply",
					"maxclass": "comment",
					"numinlets": 1,
					"numoutlets": 0,
					"patching_rect": [
						1100.0,
						210.0,
						180.0,
						80.0
					],
					"text": "PREFIX/reply from the console: where the answers go (127.0.0.1:7401 until it says)",
					"linecount": 4
				}
			},
			{
				"box": {
					"id": "c-hello",
					"maxclass": "comment",
					"numinlets": 1,
					"numoutlets": 0,
					"patching_rect": [
						260.0,
						505.0,
						300.0,
						52.0
					],
					"text": "hello every 3 s: max-hub, contract revision 2, then the instrument of every track device (each answers the roll call on exsampling.tracks)",
					"linecount": 3
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
						"port",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"port",
						0
					],
					"destination": [
						"prepend-port",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"prepend-port",
						0
					],
					"destination": [
						"udpreceive",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"udpreceive",
						0
					],
					"destination": [
						"send",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"udpreceive",
						0
					],
					"destination": [
						"activity-t",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"activity-t",
						0
					],
					"destination": [
						"activity",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"plugin",
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
						"plugin",
						1
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
						"udpreceive",
						0
					],
					"destination": [
						"reply-route",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"reply-route",
						0
					],
					"destination": [
						"reply-unpack",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"reply-unpack",
						1
					],
					"destination": [
						"reply-port",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"reply-unpack",
						0
					],
					"destination": [
						"reply-host",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"reply-host",
						0
					],
					"destination": [
						"udpsend",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"reply-port",
						0
					],
					"destination": [
						"udpsend",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"reply-route",
						0
					],
					"destination": [
						"reply-show",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"reply-show",
						0
					],
					"destination": [
						"reply-label",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"answers",
						0
					],
					"destination": [
						"udpsend",
						0
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
						"hello-on",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"hello-on",
						0
					],
					"destination": [
						"metro",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"metro",
						0
					],
					"destination": [
						"hello-t",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"hello-t",
						3
					],
					"destination": [
						"hello-clear",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"hello-clear",
						0
					],
					"destination": [
						"names",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"hello-t",
						2
					],
					"destination": [
						"hello-head",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"hello-head",
						0
					],
					"destination": [
						"names",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"hello-t",
						1
					],
					"destination": [
						"rollcall",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"tracks",
						0
					],
					"destination": [
						"names",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"hello-t",
						0
					],
					"destination": [
						"names",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"names",
						0
					],
					"destination": [
						"hello",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"hello",
						0
					],
					"destination": [
						"udpsend",
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
			"amxdtype": 1633771873,
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
