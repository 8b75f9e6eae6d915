// Every word on the wall in each language a pack may use (zh, en, fr, ar). Indicator,
// region and sector names come from the server's snapshot metadata; these are the page's
// own labels.
const STRINGS = {
  zh: {
    title: (name) => `${name.replace(/省$/, '')}经济脉搏`,
    subtitle: '货运物流与产业经济 · 实时监测',
    subtitleReplay: '货运物流与产业经济 · 历史回放',
    live: '实时',
    stale: '数据中断',
    connecting: '连接中',
    reconnecting: '重连中',
    waiting: '等待数据',
    updated: '更新于',
    kpi: {
      freight_value_today: '今日货运总值',
      shipments_1m: '每分钟发运',
      active_trucks_5m: '在途车辆',
      on_time_rate_1h: '准时送达率',
      export_value_1h: '近1小时出口额',
      digital_share_1h: '数字经济占比',
    },
    map: '全省货运热力与干线流向',
    mapLegend: '近1小时货值',
    sectors: '分行业产值',
    sectorsNote: '近1小时',
    dc: '数据中心',
    dcNote: '近5分钟',
    dcPower: '总负荷',
    dcUtil: '平均利用率',
    exports: '出口目的地',
    exportsNote: '近1小时',
    corridors: '热门线路',
    corridorsNote: '近15分钟发运',
    noData: '暂无数据',
    prefectures: '各市州货运值',
    prefecturesNote: '近1小时',
    vsDay: '较昨日',
    vsWeek: '较上周',
    colDay: '较昨日',
    colWeek: '较上周',
    fastest: '较昨日增长最快：',
    local: '市州内部发运',
    replay: '回放',
    tb: {
      session: '场次',
      play: '播放',
      pause: '暂停',
      back1m: '−1分',
      back1s: '−1秒',
      fwd1s: '+1秒',
      fwd1m: '+1分',
      speed: '速度',
      yesterday: '昨日此时',
      live: '回到实时',
      noHistory: '暂无历史数据',
      loading: '读取中…',
    },
  },
  en: {
    title: (name) => `${name} Pulse`,
    subtitle: 'Freight & sector economy · live',
    subtitleReplay: 'Freight & sector economy · replay',
    live: 'LIVE',
    stale: 'STALE',
    connecting: 'CONNECTING',
    reconnecting: 'reconnecting',
    waiting: 'waiting for data',
    updated: 'updated',
    kpi: {
      freight_value_today: 'Freight value today',
      shipments_1m: 'Shipments / minute',
      active_trucks_5m: 'Active trucks',
      on_time_rate_1h: 'On-time rate',
      export_value_1h: 'Exports, last hour',
      digital_share_1h: 'Digital economy share',
    },
    map: 'Freight by prefecture and busiest corridors',
    mapLegend: 'Freight value, last hour',
    sectors: 'Output by sector',
    sectorsNote: 'last hour',
    dc: 'Data centres',
    dcNote: 'last 5 min',
    dcPower: 'IT load',
    dcUtil: 'Utilisation',
    exports: 'Exports by destination',
    exportsNote: 'last hour',
    corridors: 'Busiest corridors',
    corridorsNote: 'shipments, last 15 min',
    noData: 'no data yet',
    prefectures: 'Freight by prefecture',
    prefecturesNote: 'last hour',
    vsDay: 'vs yesterday',
    vsWeek: 'vs last week',
    colDay: 'yesterday',
    colWeek: 'last week',
    fastest: 'Fastest growing vs yesterday:',
    local: 'Within one prefecture',
    replay: 'REPLAY',
    tb: {
      session: 'Session',
      play: 'Play',
      pause: 'Pause',
      back1m: '−1 min',
      back1s: '−1 s',
      fwd1s: '+1 s',
      fwd1m: '+1 min',
      speed: 'Speed',
      yesterday: 'This time yesterday',
      live: 'Back to live',
      noHistory: 'no history yet',
      loading: 'loading…',
    },
  },
  fr: {
    title: (name) => `Pouls économique · ${name}`,
    subtitle: 'Fret et économie sectorielle · en direct',
    subtitleReplay: 'Fret et économie sectorielle · relecture',
    live: 'EN DIRECT',
    stale: 'INTERROMPU',
    connecting: 'CONNEXION',
    reconnecting: 'reconnexion',
    waiting: 'en attente de données',
    updated: 'mis à jour',
    kpi: {
      freight_value_today: 'Valeur du fret du jour',
      shipments_1m: 'Expéditions / minute',
      active_trucks_5m: 'Camions en route',
      on_time_rate_1h: 'Taux de ponctualité',
      export_value_1h: 'Exportations, dernière heure',
      digital_share_1h: "Part de l'économie numérique",
    },
    map: 'Fret par région et axes les plus actifs',
    mapLegend: 'Valeur du fret, dernière heure',
    sectors: 'Production par secteur',
    sectorsNote: 'dernière heure',
    dc: 'Centres de données',
    dcNote: '5 dernières min',
    dcPower: 'Charge IT',
    dcUtil: 'Utilisation',
    exports: 'Exportations par destination',
    exportsNote: 'dernière heure',
    corridors: 'Axes les plus actifs',
    corridorsNote: 'expéditions, 15 dernières min',
    noData: 'pas encore de données',
    prefectures: 'Fret par région',
    prefecturesNote: 'dernière heure',
    vsDay: 'vs hier',
    vsWeek: 'vs sem. dern.',
    colDay: 'hier',
    colWeek: 'sem. dern.',
    fastest: 'Plus forte hausse vs hier :',
    local: 'Au sein d’une même région',
    replay: 'RELECTURE',
    tb: {
      session: 'Session',
      play: 'Lecture',
      pause: 'Pause',
      back1m: '−1 min',
      back1s: '−1 s',
      fwd1s: '+1 s',
      fwd1m: '+1 min',
      speed: 'Vitesse',
      yesterday: 'Hier à la même heure',
      live: 'Retour au direct',
      noHistory: 'pas encore d’historique',
      loading: 'chargement…',
    },
  },
  ar: {
    title: (name) => `نبض اقتصاد ${name}`,
    subtitle: 'الشحن والاقتصاد القطاعي · مباشر',
    subtitleReplay: 'الشحن والاقتصاد القطاعي · إعادة',
    live: 'مباشر',
    stale: 'انقطاع البيانات',
    connecting: 'جارٍ الاتصال',
    reconnecting: 'إعادة الاتصال',
    waiting: 'في انتظار البيانات',
    updated: 'آخر تحديث',
    kpi: {
      freight_value_today: 'قيمة الشحن اليوم',
      shipments_1m: 'الشحنات في الدقيقة',
      active_trucks_5m: 'الشاحنات على الطريق',
      on_time_rate_1h: 'نسبة الالتزام بالمواعيد',
      export_value_1h: 'الصادرات خلال الساعة الأخيرة',
      digital_share_1h: 'حصة الاقتصاد الرقمي',
    },
    map: 'الشحن حسب الجهة وأنشط المحاور',
    mapLegend: 'قيمة الشحن خلال الساعة الأخيرة',
    sectors: 'الإنتاج حسب القطاع',
    sectorsNote: 'الساعة الأخيرة',
    dc: 'مراكز البيانات',
    dcNote: 'آخر 5 دقائق',
    dcPower: 'الحمل',
    dcUtil: 'الاستخدام',
    exports: 'الصادرات حسب الوجهة',
    exportsNote: 'الساعة الأخيرة',
    corridors: 'أنشط المحاور',
    corridorsNote: 'الشحنات، آخر 15 دقيقة',
    noData: 'لا توجد بيانات بعد',
    prefectures: 'الشحن حسب الجهة',
    prefecturesNote: 'الساعة الأخيرة',
    vsDay: 'عن أمس',
    vsWeek: 'عن الأسبوع الماضي',
    colDay: 'الأمس',
    colWeek: 'قبل أسبوع',
    fastest: 'الأسرع نموًا مقارنة بالأمس:',
    local: 'داخل الجهة نفسها',
    replay: 'إعادة',
    tb: {
      session: 'الجلسة',
      play: 'تشغيل',
      pause: 'إيقاف مؤقت',
      back1m: '−1 د',
      back1s: '−1 ث',
      fwd1s: '+1 ث',
      fwd1m: '+1 د',
      speed: 'السرعة',
      yesterday: 'الأمس في مثل هذا الوقت',
      live: 'العودة إلى المباشر',
      noHistory: 'لا يوجد سجل بعد',
      loading: 'جارٍ التحميل…',
    },
  },
};

// The locale each language formats numbers and dates in. Arabic keeps Latin digits, as
// Morocco writes them (and as a wall read from across a room reads best).
const LOCALES = { zh: 'zh-CN', en: 'en-US', fr: 'fr-FR', ar: 'ar-u-nu-latn' };
const RTL = new Set(['ar']);

export function locale(lang) {
  return LOCALES[lang] ?? LOCALES.en;
}

// Which way a language is written: 'rtl' for Arabic, else 'ltr'.
export function direction(lang) {
  return RTL.has(lang) ? 'rtl' : 'ltr';
}

// The language a wall speaks: the one the URL asks for if the area names its places in it,
// else the area's first.
export function chooseLanguage(requested, languages) {
  if (!languages?.length) throw new Error('the page does not know its area (no data-pack on <html>)');
  return languages.includes(requested) ? requested : languages[0];
}

// The page's words in `lang`, with what the area decides about them: the title from its
// name, its currency and its time zone (pack: web/metadata.py's page_pack).
export function strings(lang, pack) {
  const words = STRINGS[lang] ?? STRINGS.en;
  const name = pack.province.names[lang] ?? Object.values(pack.province.names)[0];
  return {
    ...words,
    lang,
    title: words.title(name),
    province: pack.province.code,
    currency: pack.currency,
    timeZone: pack.time_zone,
    // What times are shown in: the server's offsets for the zone where it sent them (see
    // travelurl.js offsetAt), else the zone's name for the browser's Intl.
    zone: pack.zone ?? pack.time_zone,
    // From one place to another, pointing the way the language reads.
    arrow: direction(lang) === 'rtl' ? '←' : '→',
    mapName: pack.map.name,
    attribution: pack.map.attribution,
  };
}

// A place's name in `lang` (its first name if it has none in `lang`); Chinese names are
// shortened for a crowded map: an autonomous prefecture's peoples and a city's 市 are
// dropped (…布依族苗族自治州 -> …州, …市 -> …).
export function shortName(place, lang) {
  const name = place.names[lang] ?? Object.values(place.names)[0] ?? place.code;
  if (lang !== 'zh') return name;
  return name.replace(/(布依族苗族|苗族侗族)自治州$/, '州').replace(/市$/, '');
}

const regionNames = new Map(); // lang -> Intl.DisplayNames

export function countryName(code, lang) {
  try {
    let names = regionNames.get(lang);
    if (names === undefined) {
      names = new Intl.DisplayNames([lang === 'zh' ? 'zh-CN' : lang], { type: 'region' });
      regionNames.set(lang, names);
    }
    return names.of(code) ?? code;
  } catch {
    return code;
  }
}
