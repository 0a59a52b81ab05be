package main

import (
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/units"
)

// knownUnits is every unit constant of the SDK's units package (Grafana's
// own list of unit ids, generated from its schema): a unit id outside it,
// such as "seconds" for "s", makes Grafana print bare numbers.
var knownUnits = map[string]bool{}

func init() {
	for _, u := range []string{
		units.NoUnit, units.Number, units.String, units.Short, units.SiShort, units.Percent,
		units.PercentUnit, units.Humidity, units.Decibel, units.Candela, units.HexadecimalOx,
		units.Hexadecimal, units.ScientificNotation, units.LocaleFormat, units.Pixels,
		units.MetersSecSquared, units.FeetSecSquared, units.GUnit, units.Degrees, units.Radians,
		units.Gradian, units.ArcMinutes, units.ArcSeconds, units.SquareMeters, units.SquareFeet,
		units.SquareMiles, units.Acres, units.Hectares, units.FlopsPerSecond, units.MegaFlopsPerSecond,
		units.GigaFlopsPerSecond, units.TeraFlopsPerSecond, units.PetaFlopsPerSecond,
		units.ExaFlopsPerSecond, units.ZettaFlopsPerSecond, units.YottaFlopsPerSecond,
		units.PartsPerMillion, units.PartsPerBillion, units.NanogramPerCubicMeter,
		units.NanogramPerNormalCubicMeter, units.MicrogramPerCubicMeter,
		units.MicrogramPerNormalCubicMeter, units.MilligramPerCubicMeter,
		units.MilligramPerNormalCubicMeter, units.GramPerCubicMeter, units.GramPerNormalCubicMeter,
		units.MilligramsPerDecilitre, units.MillimolesPerLiter, units.Dollars, units.Pounds, units.Euro,
		units.Yen, units.Rubles, units.Hryvnias, units.Real, units.DanishKrone, units.IcelandicKrona,
		units.NorwegianKrone, units.SwedishKrona, units.CzechKoruna, units.SwissFranc, units.PolishZloty,
		units.Bictoin, units.MilliBitcoin, units.MicroBitcoin, units.SouthAfricanRand, units.IndianRupee,
		units.SouthKoreanWon, units.IndonesianRupiah, units.PhilippinePeso, units.VietnameseDong,
		units.TurkishLira, units.MalaysianRinggit, units.CFPFranc, units.BulgarianLev, units.Guarani,
		units.UruguayPeso, units.IsraeliNewShekels, units.BytesIEC, units.BytesSI, units.BitsIEC,
		units.BitsSI, units.Kibibytes, units.Kilobytes, units.Mebibytes, units.Megabytes, units.Gibibytes,
		units.Gigabytes, units.Tebibytes, units.Terabytes, units.Pebibytes, units.Petabytes,
		units.PacketsPerSecond, units.BytesPerSecondIEC, units.BytesPerSecondSI, units.BitsPerSecondIEC,
		units.BitsPerSecondSI, units.KibibytesPerSecond, units.KibibitsPerSecond,
		units.KilobytesPerSecond, units.KilobitsPerSecond, units.MebibytesPerSecond,
		units.MebibitsPerSecond, units.MegabytesPerSecond, units.MegabitsPerSecond,
		units.GibibytesPerSecond, units.GibibitsPerSecond, units.GigabytesPerSecond,
		units.GigabitsPerSecond, units.TebibytesPerSecond, units.TebibitsPerSecond,
		units.TerabytesPerSecond, units.TerabitsPerSecond, units.PebibytesPerSecond,
		units.PebibitsPerSecond, units.PetabytesPerSecond, units.PetabitsPerSecond, units.DatetimeISO,
		units.DatetimeISONotToday, units.DatetimeUS, units.DatetimeUSNotToday, units.DatetimeLocal,
		units.DatetimeLocalNotToday, units.DatetimeDefault, units.DateTimeFromNow, units.Watt,
		units.KiloWatt, units.MegaWatt, units.GigaWatt, units.MilliWatt, units.WattPerSquareMeter,
		units.VoltAmpere, units.KiloVoltAmpere, units.VoltAmpereReactive, units.KiloVoltAmpereReactive,
		units.WattHour, units.WattHourPerKilogram, units.KiloWattHour, units.KiloWattMinute,
		units.MegaWattHour, units.AmpereHour, units.KiloAmpereHour, units.MilliAmpereHour, units.Joule,
		units.ElectronVolt, units.Ampere, units.KiloAmpere, units.MilliAmpere, units.Volt, units.KiloVolt,
		units.MilliVolt, units.DecibelMilliWatt, units.MilliOhm, units.Ohm, units.KiloOhm, units.MegaOhm,
		units.Farad, units.MicroFarad, units.NanoFarad, units.PicoFarad, units.FemtoFarad, units.Henry,
		units.MilliHenry, units.MicroHenry, units.Lumens, units.GallonsPerMinute,
		units.CubicMetersPerSecond, units.CubicFeetPerSecond, units.CubicFeetPerMinute,
		units.LitrePerHour, units.LitrePerMinute, units.MilliLitrePerMinute, units.Lux,
		units.NewtonMeters, units.KiloNewtonMeters, units.Newtons, units.KiloNewtons,
		units.HashesPerSecond, units.KiloHashesPerSecond, units.MegaHashesPerSecond,
		units.GigaHashesPerSecond, units.TeraHashesPerSecond, units.PetaHashesPerSecond,
		units.ExaHashesPerSecond, units.Milligram, units.Gram, units.Pound, units.Kilogram,
		units.MetricTon, units.Millimeter, units.Inch, units.Feet, units.Meter, units.Kilometer,
		units.Mile, units.Millibars, units.Bars, units.Kilobars, units.Pascals, units.Hectopascals,
		units.Kilopascals, units.InchesOfMercury, units.PSI, units.Becquerel, units.Curie, units.Gray,
		units.Rad, units.Sievert, units.Millisievert, units.Microsievert, units.Rem, units.Exposure,
		units.Roentgen, units.SievertPerHour, units.MillisievertPerHour, units.MicrosievertPerHour,
		units.RevolutionsPerMinute, units.HertzRotation, units.KilohertzRotation, units.MegahertzRotation,
		units.GigahertzRotation, units.RadiansPerSecond, units.DegreesPerSecond, units.Celsius,
		units.Fahrenheit, units.Kelvin, units.Hertz, units.Nanoseconds, units.Microseconds,
		units.Milliseconds, units.Seconds, units.Minutes, units.Hours, units.Days,
		units.DurationMilliseconds, units.DurationSeconds, units.DurationInHoursMinutesSeconds,
		units.DurationInDaysHoursMinutesSeconds, units.Timeticks, units.ClockMilliseconds,
		units.ClockSeconds, units.CountsPerSecond, units.OpsPerSecond, units.RequestsPerSecond,
		units.ReadsPerSecond, units.WritesPerSecond, units.IOOpsPerSecond, units.EventsPerSecond,
		units.MessagesPerSecond, units.RecordsPerSecond, units.RowsPerSecond, units.CountsPerMinute,
		units.OpsPerMinute, units.RequestsPerMinute, units.ReadsPerMinute, units.WritesPerMinute,
		units.EventsPerMinute, units.MessagesPerMinute, units.RecordsPerMinute, units.RowsPerMinute,
		units.MetersPerSecond, units.KilometersPerHour, units.MilesPerHour, units.Knot, units.Millilitre,
		units.Litre, units.CubicMeter, units.NormalCubicMeter, units.CubicDecimeter, units.Gallons,
		units.Bool, units.BoolYesNo, units.BoolOnOff,
	} {
		knownUnits[u] = true
	}
}

// knownUnit: a unit id of the SDK, or one of Grafana's custom forms
// ("suffix:runs", "prefix:$", "si:B", "count:runs", "currency:EUR", "time:HH:mm").
func knownUnit(u string) bool {
	if knownUnits[u] {
		return true
	}
	for _, p := range []string{"suffix:", "prefix:", "si:", "count:", "currency:", "time:"} {
		if strings.HasPrefix(u, p) && len(u) > len(p) {
			return true
		}
	}
	return false
}
